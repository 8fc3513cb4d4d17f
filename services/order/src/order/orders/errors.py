from shared.errors import Conflict, NotFound, Unprocessable


class OrderNotFound(NotFound):
    code = "order_not_found"


class CouponNotApplicable(Unprocessable):
    code = "coupon_not_applicable"


class AddressRequired(Unprocessable):
    code = "address_required"


class IdempotencyKeyRequired(Unprocessable):
    code = "idempotency_key_required"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class IdempotencyInFlight(Conflict):
    code = "idempotency_request_in_flight"


class PickupCodeWrong(Conflict):
    code = "pickup_code_wrong"


class NotYourItems(NotFound):
    code = "order_not_found"
