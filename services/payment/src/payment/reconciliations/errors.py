from shared.errors import Unprocessable


class BillDateInvalid(Unprocessable):
    code = "bill_date_invalid"
