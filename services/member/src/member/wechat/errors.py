"""WeChat error codes as the errors our clients see."""

from shared.errors import AppError, Conflict, ServiceUnavailable, Unprocessable


class WeChatCodeInvalid(AppError):
    status_code = 401
    code = "wechat_code_invalid"


class WeChatRateLimited(AppError):
    status_code = 429
    code = "wechat_rate_limited"


class WeChatUserBlocked(AppError):
    status_code = 403
    code = "wechat_user_blocked"


class WeChatUnavailable(ServiceUnavailable):
    """WeChat is down or answered -1 (system error): retry later."""

    code = "wechat_unavailable"


class WeChatNotSubscribed(Conflict):
    code = "wechat_not_subscribed"


class WeChatInvalidArgument(Unprocessable):
    code = "wechat_invalid_argument"


class WeChatRejected(AppError):
    """Anything else WeChat refused (configuration: appid, secret, IP whitelist ...)."""

    status_code = 502
    code = "wechat_error"


class WeChatTokenRejected(WeChatRejected):
    """40001/42001: the access token is stale; the client refreshes it and retries once."""


_INVALID_CODE = {40029, 40163}
_TOKEN = {40001, 42001}
_ARGUMENT = {40003, 40037, 41030, 47001, 47003}


def error_for(errcode: int, errmsg: str, api: str) -> AppError:
    details = [{"errcode": errcode, "api": api}]
    if errcode in _INVALID_CODE:
        return WeChatCodeInvalid("The WeChat code is invalid, used or expired.", details=details)
    if errcode == 45011:
        return WeChatRateLimited(
            "Too many WeChat logins for this user; retry in a minute.",
            details=details,
            headers={"Retry-After": "60"},
        )
    if errcode == 40226:
        return WeChatUserBlocked("WeChat blocked this login (high-risk user).", details=details)
    if errcode == -1:
        return unavailable(f"WeChat system error ({api}).", details=details)
    if errcode == 43101:
        return WeChatNotSubscribed("The user has not accepted this message.", details=details)
    if errcode in _TOKEN:
        return WeChatTokenRejected(f"WeChat refused the access token: {errmsg}", details=details)
    if errcode in _ARGUMENT:
        return WeChatInvalidArgument(f"WeChat refused an argument: {errmsg}", details=details)
    return WeChatRejected(f"WeChat answered {errcode}: {errmsg}", details=details)


def unavailable(message: str, details: list[dict[str, object]] | None = None) -> WeChatUnavailable:
    return WeChatUnavailable(
        message,
        details=[*(details or []), {"retryable": True}],
        headers={"Retry-After": "1"},
    )
