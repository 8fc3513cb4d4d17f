"""WeChat's error style: HTTP 200 with ``{"errcode", "errmsg"}``, the message carrying a rid."""

import secrets
from typing import Any

from fastapi.responses import Response

from wechat_sim.jsonbody import json_response


class WeChatFault(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def new_rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(6)}"


def error_body(fault: WeChatFault) -> dict[str, Any]:
    return {"errcode": fault.errcode, "errmsg": f"{fault.errmsg}, rid: {new_rid()}"}


def error_response(fault: WeChatFault, *, media_type: str = "application/json") -> Response:
    return json_response(error_body(fault), media_type=media_type)


# The messages WeChat sends with each code (the rid is appended).
MESSAGES = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "code blocked",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
}


def fault(errcode: int, detail: str | None = None) -> WeChatFault:
    message = MESSAGES.get(errcode, "error")
    return WeChatFault(errcode, f"{message} {detail}" if detail else message)
