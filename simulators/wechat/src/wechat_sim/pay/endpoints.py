"""WeChat Pay API v3 as WeChat serves it (``api.mch.weixin.qq.com``).

Every call checks the merchant's signature (401 SIGN_ERROR); every answer carries the six
``Wechatpay-*``/``Request-ID`` headers, signed with the key the request's
``Wechatpay-Serial`` named (the WeChat Pay public key, or a platform certificate). Only the
bill file (``/v3/billdownload/file``) is unsigned, as at WeChat.
"""

import gzip
import hashlib
import json
import secrets
import time
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from wechat_sim.pay.auth import Caller, authenticate
from wechat_sim.pay.bills import trade_bill
from wechat_sim.pay.crypto import encrypt
from wechat_sim.pay.errors import PayError
from wechat_sim.pay.keys import cert_pem
from wechat_sim.pay.schemas import CloseBody, JsapiPrepayBody, RefundBody
from wechat_sim.pay.simulator import Bill, PaySimulator
from wechat_sim.pay.state import CHINA, rfc3339

ModelT = TypeVar("ModelT", bound=BaseModel)


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _parse(model: type[ModelT], body: bytes) -> ModelT:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise PayError(
            400,
            "PARAM_ERROR",
            f"参数错误: {where} {first.get('msg', '')}",
            {"field": where, "location": "body"},
        ) from None


def signed(
    sim: PaySimulator,
    api: str | None,
    wants_serial: str | None,
    status: int,
    payload: dict[str, Any] | None,
) -> Response:
    fault = sim.take_fault(api, error=False) if api else None
    body = _dump(payload) if payload is not None else b""
    body, headers = sim.keyring.sign(
        body, sim.keyring.signer_for(wants_serial), fault.kind if fault else None
    )
    media_type = "application/json" if payload is not None else None
    return Response(content=body, status_code=status, headers=headers, media_type=media_type)


def install_pay(app: FastAPI, sim: PaySimulator) -> None:
    """The /v3 routes and the signed error answers."""

    async def pay_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PayError)
        return signed(sim, None, request.headers.get("wechatpay-serial"), exc.status, exc.body())

    app.add_exception_handler(PayError, pay_error)
    app.include_router(pay_router(sim))


def pay_router(sim: PaySimulator) -> APIRouter:
    router = APIRouter(prefix="/v3", tags=["WeChat Pay v3"])

    async def begin(request: Request, api: str) -> Caller:
        sim.stats[api] += 1
        caller = await authenticate(request, sim.keyring)
        fault = sim.take_fault(api, error=True)
        if fault is not None:
            raise PayError(fault.status, fault.code, fault.message)
        return caller

    def check_mchid(mchid: str | None) -> None:
        if not mchid:
            raise PayError(
                400, "PARAM_ERROR", "缺少参数mchid", {"field": "mchid", "location": "query"}
            )
        if mchid != sim.ledger.mchid:
            raise PayError(400, "MCH_NOT_EXISTS", "商户号不存在")

    @router.post("/pay/transactions/jsapi")
    async def prepay(request: Request) -> Response:
        caller = await begin(request, "prepay")
        order = sim.ledger.prepay(caller, _parse(JsapiPrepayBody, caller.body))
        return signed(sim, "prepay", caller.wants_serial, 200, {"prepay_id": order.prepay_id})

    @router.get("/pay/transactions/out-trade-no/{out_trade_no}")
    async def query(request: Request, out_trade_no: str, mchid: str | None = None) -> Response:
        caller = await begin(request, "query")
        check_mchid(mchid)
        order = sim.ledger.order(out_trade_no)
        return signed(sim, "query", caller.wants_serial, 200, order.transaction())

    @router.get("/pay/transactions/id/{transaction_id}")
    async def query_by_id(
        request: Request, transaction_id: str, mchid: str | None = None
    ) -> Response:
        caller = await begin(request, "query")
        check_mchid(mchid)
        order = sim.ledger.order_by_transaction(transaction_id)
        return signed(sim, "query", caller.wants_serial, 200, order.transaction())

    @router.post("/pay/transactions/out-trade-no/{out_trade_no}/close")
    async def close(request: Request, out_trade_no: str) -> Response:
        caller = await begin(request, "close")
        check_mchid(_parse(CloseBody, caller.body).mchid)
        sim.ledger.close(out_trade_no)
        return signed(sim, "close", caller.wants_serial, 204, None)

    @router.post("/refund/domestic/refunds")
    async def refund(request: Request) -> Response:
        caller = await begin(request, "refund")
        created, new = sim.ledger.refund(_parse(RefundBody, caller.body))
        if new:
            sim.refund_accepted(created)
        return signed(sim, "refund", caller.wants_serial, 200, created.body())

    @router.get("/refund/domestic/refunds/{out_refund_no}")
    async def refund_query(request: Request, out_refund_no: str) -> Response:
        caller = await begin(request, "refund_query")
        found = sim.ledger.refund_of(out_refund_no)
        return signed(sim, "refund_query", caller.wants_serial, 200, found.body())

    @router.get("/bill/tradebill")
    async def tradebill(
        request: Request, bill_date: str = "", bill_type: str = "ALL", tar_type: str | None = None
    ) -> Response:
        caller = await begin(request, "tradebill")
        try:
            day = date.fromisoformat(bill_date)
        except ValueError:
            raise PayError(
                400, "PARAM_ERROR", "账单日期格式不正确", {"field": "bill_date"}
            ) from None
        today = datetime.now(CHINA).date()
        if day > today:
            raise PayError(400, "INVALID_REQUEST", "账单日期不能晚于今天")
        if day < today - timedelta(days=90):
            raise PayError(400, "INVALID_REQUEST", "只能下载三个月以内的账单")
        if bill_type not in ("ALL", "SUCCESS", "REFUND") or tar_type not in (None, "GZIP"):
            raise PayError(400, "PARAM_ERROR", "bill_type或tar_type取值错误")
        content = trade_bill(sim.ledger.orders.values(), day, bill_type)
        if content is None:
            raise PayError(400, "NO_STATEMENT_EXIST", "账单不存在")
        packed = gzip.compress(content, mtime=0) if tar_type == "GZIP" else content
        token = secrets.token_urlsafe(24)
        sim.bills[token] = Bill(packed, time.time() + sim.settings.pay_bill_url_ttl_s)
        url = f"{str(request.base_url).rstrip('/')}/v3/billdownload/file?token={token}"
        payload = {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(content).hexdigest(),
            "download_url": url,
        }
        return signed(sim, "tradebill", caller.wants_serial, 200, payload)

    @router.get("/billdownload/file")
    async def billdownload(request: Request, token: str = "") -> Response:
        await begin(request, "billdownload")
        bill = sim.bills.get(token)
        if bill is None or bill.expires_at < time.time():
            raise PayError(400, "INVALID_REQUEST", "下载地址已过期或不存在")
        return Response(content=bill.content, media_type="application/octet-stream")

    @router.get("/certificates")
    async def certificates(request: Request) -> Response:
        caller = await begin(request, "certificates")
        if not sim.switches.certificates_enabled:
            raise PayError(403, "NO_AUTH", "商户已切换为微信支付公钥模式，无法下载平台证书")
        apiv3_key = sim.keyring.dev.apiv3_key
        data = [
            {
                "serial_no": p.serial,
                "effective_time": rfc3339(p.cert.not_valid_before_utc.timestamp()),
                "expire_time": rfc3339(p.cert.not_valid_after_utc.timestamp()),
                "encrypt_certificate": encrypt(apiv3_key, cert_pem(p.cert), "certificate"),
            }
            for p in sim.keyring.platforms
            if p.cert.not_valid_after_utc.timestamp() > time.time()
        ]
        return signed(sim, "certificates", caller.wants_serial, 200, {"data": data})

    return router


__all__ = ["install_pay"]
