from shared.errors import Conflict, NotFound


class PaymentOrderNotFound(NotFound):
    code = "order_not_found"


class OrderNotPayable(Conflict):
    """The order is not waiting for payment (paid, cancelled, past its deadline)."""

    code = "order_not_payable"


class PaymentAlreadyMade(Conflict):
    code = "payment_already_made"


class PayerUnknown(Conflict):
    """The member has no openid for this mini-program (not a WeChat login)."""

    code = "payer_openid_missing"
