"""WeChat Pay's error answers: ``{"code", "message", "detail"?}`` with the HTTP status."""

from typing import Any


class PayError(Exception):
    def __init__(
        self, status: int, code: str, message: str, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def param_error(message: str, field: str | None = None) -> PayError:
    detail = {"field": field, "location": "body"} if field else None
    return PayError(400, "PARAM_ERROR", message, detail)


def sign_error(issue: str, message: str = "签名错误，请检查后再试", **info: Any) -> PayError:
    detail: dict[str, Any] = {
        "field": "signature",
        "location": "authorization",
        "detail": {"issue": issue},
    }
    if info:
        detail["sign_information"] = info
    return PayError(401, "SIGN_ERROR", message, detail)
