from shared.errors import Conflict, NotFound, Unprocessable


class AddressNotFound(NotFound):
    code = "address_not_found"


class AddressLimitReached(Conflict):
    code = "address_limit_reached"


class AddressDefaultRequired(Unprocessable):
    code = "address_default_required"
