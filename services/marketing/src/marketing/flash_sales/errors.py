from shared.errors import AppError, Conflict, NotFound, ServiceUnavailable, Unprocessable


class FlashSaleNotFound(NotFound):
    code = "flash_sale_not_found"


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class FlashSaleInvalid(Unprocessable):
    code = "flash_sale_invalid"


class SkuUnavailable(Unprocessable):
    code = "sku_unavailable"


class SaleNotStarted(Conflict):
    code = "sale_not_started"


class SaleEnded(Conflict):
    code = "sale_ended"


class SaleNotCancellable(Conflict):
    code = "sale_not_cancellable"


class FlashSaleUnavailable(ServiceUnavailable):
    code = "flash_sale_unavailable"


class FlashSaleLoadFailed(Conflict):
    code = "flash_sale_load_failed"


class TokenNotYet(Conflict):
    code = "purchase_token_not_yet"


class Refused(AppError):
    """A refusal decided by the Redis step, with its status and code."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code  # type: ignore[misc]
        self.code = code  # type: ignore[misc]
