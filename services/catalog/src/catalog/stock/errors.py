from shared.errors import Conflict, NotFound, Unprocessable


class InsufficientStock(Conflict):
    """``details``: ``[{"sku_id", "requested", "available"}]``."""

    code = "insufficient_stock"


class SkuUnavailable(Unprocessable):
    """Unknown, inactive or not on sale. ``details``: ``[{"sku_id"}]``."""

    code = "sku_unavailable"


class ReservationKeyReused(Conflict):
    code = "reservation_key_reused"


class ReservationNotFound(NotFound):
    code = "reservation_not_found"


class ReservationNotActive(Conflict):
    """Released or expired: it can no longer be committed."""

    code = "reservation_not_active"


class ReservationCommitted(Conflict):
    code = "reservation_committed"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
