"""Checking the merchant's ``Authorization`` header as WeChat Pay does (401 SIGN_ERROR)."""

import re
import time
from dataclasses import dataclass

from fastapi import Request

from wechat_sim.pay.crypto import SIGNATURE_TYPE, verify
from wechat_sim.pay.errors import sign_error
from wechat_sim.pay.keyring import Keyring

_PARAM = re.compile(r'(\w+)="([^"]*)"')
MAX_SKEW_S = 300


@dataclass(frozen=True)
class Caller:
    mchid: str
    serial_no: str
    # Wechatpay-Serial of the request: the key the merchant wants answers signed with.
    wants_serial: str | None
    body: bytes


def canonical_url(request: Request) -> str:
    """Path and query exactly as they came over the wire."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return (raw_path + (b"?" + query if query else b"")).decode("latin-1")


async def authenticate(request: Request, keyring: Keyring) -> Caller:
    body = await request.body()
    header = request.headers.get("authorization", "")
    schema, _, params_text = header.partition(" ")
    if schema != SIGNATURE_TYPE:
        raise sign_error("authorization schema not supported", "Http头Authorization值格式错误")
    params = dict(_PARAM.findall(params_text))
    missing = {"mchid", "nonce_str", "timestamp", "serial_no", "signature"} - params.keys()
    if missing:
        raise sign_error(f"missing {', '.join(sorted(missing))}", "Http头Authorization值格式错误")
    if params["mchid"] != keyring.dev.mchid:
        raise sign_error("mchid not found", "商户号不存在")
    if params["serial_no"].upper() != keyring.dev.merchant_serial:
        raise sign_error("serial_no not found", "商户证书序列号有误")
    try:
        skew = abs(time.time() - int(params["timestamp"]))
    except ValueError:
        raise sign_error("timestamp invalid") from None
    if skew >= MAX_SKEW_S:
        raise sign_error(
            "timestamp expired", "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟"
        )
    url = canonical_url(request)
    message = (
        f"{request.method}\n{url}\n{params['timestamp']}\n{params['nonce_str']}\n".encode()
        + body
        + b"\n"
    )
    if not verify(keyring.merchant_key, message, params["signature"]):
        raise sign_error(
            "sign not match",
            method=request.method,
            url=url,
            sign_message_length=len(message),
            truncated_sign_message=message[:100].decode("utf-8", "replace"),
        )
    return Caller(
        mchid=params["mchid"],
        serial_no=params["serial_no"],
        wants_serial=request.headers.get("wechatpay-serial"),
        body=body,
    )
