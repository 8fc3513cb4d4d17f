"""WeChat Pay answers and failures as typed errors (wechat-notes.md §6).

Every error says whether retrying **with the same parameters** (same out_trade_no, same
out_refund_no) is useful: ``retryable`` is true when the outcome is unknown or WeChat asks
for a retry (5xx SYSTEM_ERROR/BANK_ERROR, 429, timeouts, unreachable, an answer we could not
verify). Never switch to a new order number after one of them: query instead.
"""

from typing import Any, ClassVar

from shared.errors import AppError


class WeChatPayError(AppError):
    """Base of every WeChat Pay failure. ``wechat_code`` is WeChat's ``code`` when it sent one."""

    status_code = 502
    code = "wechatpay_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        wechat_code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(
            message,
            details=[
                {
                    "wechat_code": wechat_code,
                    "http_status": http_status,
                    "wechat_request_id": request_id,
                    "retryable": self.retryable,
                }
            ],
        )
        self.wechat_code = wechat_code
        self.http_status = http_status
        self.request_id = request_id
        self.detail = detail


class WeChatPayUnavailable(WeChatPayError):
    """Outcome unknown (5xx, 429, timeout, unreachable): query, or retry the same call."""

    status_code = 503
    code = "wechatpay_unavailable"
    retryable = True


class WeChatPayRejected(WeChatPayError):
    """WeChat refused the call for good (PARAM_ERROR, NO_AUTH, APPID_MCHID_NOT_MATCH …)."""

    code = "wechatpay_rejected"


class WeChatPaySignError(WeChatPayRejected):
    """401 SIGN_ERROR: our request signature (key, serial, mchid or clock) is wrong."""

    code = "wechatpay_sign_error"


class WeChatPayNotFound(WeChatPayRejected):
    """404 ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS."""

    status_code = 404
    code = "wechatpay_not_found"


class WeChatPayOrderPaid(WeChatPayRejected):
    status_code = 409
    code = "wechatpay_order_paid"


class WeChatPayOrderClosed(WeChatPayRejected):
    status_code = 409
    code = "wechatpay_order_closed"


class WeChatPayOutTradeNoUsed(WeChatPayRejected):
    """403 OUT_TRADE_NO_USED: the number was used with other parameters."""

    status_code = 409
    code = "wechatpay_out_trade_no_used"


class WeChatPayBalanceInsufficient(WeChatPayRejected):
    """403 NOT_ENOUGH: the merchant balance cannot cover a refund (retry later)."""

    status_code = 409
    code = "wechatpay_balance_insufficient"


class WeChatPaySignatureInvalid(WeChatPayError):
    """An answer or a notification failed verification (``reason`` says why). For an answer
    the outcome of the call is unknown, so retrying the same call is the way out."""

    code = "wechatpay_signature_invalid"
    retryable = True

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"WeChat Pay signature refused: {reason}")
        self.reason = reason


class WeChatPayDecryptionFailed(WeChatPayError):
    """AES-256-GCM refused a resource: the APIv3 key is wrong, or the data was altered."""

    code = "wechatpay_decryption_failed"


class WeChatPayBillInvalid(WeChatPayError):
    """A downloaded bill does not match its SHA1 or cannot be read: download it again."""

    code = "wechatpay_bill_invalid"
    retryable = True


class WeChatPayNotConfigured(Exception):
    """A setting WeChat Pay needs is missing or unreadable (raised at startup)."""


_BY_CODE: dict[str, type[WeChatPayError]] = {
    "SIGN_ERROR": WeChatPaySignError,
    "ORDER_NOT_EXIST": WeChatPayNotFound,
    "RESOURCE_NOT_EXISTS": WeChatPayNotFound,
    "ORDERPAID": WeChatPayOrderPaid,
    "ORDER_CLOSED": WeChatPayOrderClosed,
    "OUT_TRADE_NO_USED": WeChatPayOutTradeNoUsed,
    "NOT_ENOUGH": WeChatPayBalanceInsufficient,
    "SYSTEM_ERROR": WeChatPayUnavailable,
    "BANK_ERROR": WeChatPayUnavailable,
    "FREQUENCY_LIMITED": WeChatPayUnavailable,
}


def error_for(
    http_status: int, wechat_code: str | None, message: str, request_id: str | None, detail: Any
) -> WeChatPayError:
    """A non-2xx answer as a typed error: by WeChat's code, else by the HTTP status."""
    cls = _BY_CODE.get(wechat_code or "")
    if cls is None:
        retry = http_status == 429 or (http_status >= 500 and wechat_code is None)
        cls = WeChatPayUnavailable if retry else WeChatPayRejected
    text = f"WeChat Pay answered {http_status} {wechat_code or ''}: {message}".strip()
    return cls(
        text, wechat_code=wechat_code, http_status=http_status, request_id=request_id, detail=detail
    )
