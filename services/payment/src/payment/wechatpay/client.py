"""Our WeChat Pay API v3 client: httpx, exact-byte signing, strict answer verification.

The base URL is a setting (``https://api.mch.weixin.qq.com`` in production, the simulator
locally): the same code runs against both. Every call:

1. serializes the JSON body once and signs those bytes (``content=``, never ``json=``);
2. signs ``METHOD``, the path and query exactly as httpx sends them, a timestamp and a nonce;
3. maps a non-2xx answer to a typed error (``errors.py``; ``retryable`` says what to do);
4. verifies a 2xx answer (``Verifier``) before reading it; only the bill file is unsigned.
"""

import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from shared.http import create_http_client
from shared.logging import get_logger

from payment.settings import PaymentSettings
from payment.wechatpay.bills import TradeBill, parse_trade_bill, unpack
from payment.wechatpay.config import WeChatPayConfig, config_from_settings
from payment.wechatpay.crypto import load_certificates, new_nonce
from payment.wechatpay.errors import (
    WeChatPayError,
    WeChatPaySignatureInvalid,
    WeChatPayUnavailable,
    error_for,
)
from payment.wechatpay.models import (
    CertificateList,
    JsapiPrepay,
    Refund,
    RefundCreate,
    RequestPayment,
    TradeBillLink,
    Transaction,
)
from payment.wechatpay.notifications import NotificationParser, decrypt_resource
from payment.wechatpay.signing import authorization, pay_sign
from payment.wechatpay.trust import PlatformCertificate, TrustStore
from payment.wechatpay.verifier import Verifier

log = get_logger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
USER_AGENT = "minimall-payment/0.1 (WeChatPay-APIv3; python-httpx)"


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class WeChatPayClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: WeChatPayConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self.config = config
        self._clock = clock
        self.trust = TrustStore(
            public_key=config.public_key,
            public_key_id=config.public_key_id,
            certificates=config.platform_certificates,
            refresher=self.download_certificates if config.certificate_download else None,
            min_interval_s=config.certificate_refresh_min_interval_s,
        )
        self.verifier = Verifier(self.trust, clock=clock)
        self.notifications = NotificationParser(self.verifier, config.apiv3_key)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the signed exchange ---------------------------------------------------------------

    async def _serial_to_name(self) -> str | None:
        """``Wechatpay-Serial`` of a request: the key we want the answer signed with."""
        if self.config.mode == "public_key":
            return self.config.public_key_id
        serial = self.trust.newest_serial()
        if serial is None and await self.trust.refresh():
            serial = self.trust.newest_serial()
        return serial

    async def _send(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        serial: str | None = None,
    ) -> httpx.Response:
        content = _dump(body) if body is not None else b""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if serial:
            headers["Wechatpay-Serial"] = serial
        request = self._http.build_request(
            method, path, params=params, content=content or None, headers=headers
        )
        timestamp, nonce = str(int(self._clock())), new_nonce()
        request.headers["Authorization"] = authorization(
            mchid=self.config.mchid,
            serial_no=self.config.merchant_serial,
            key=self.config.merchant_key,
            method=method,
            canonical_url=request.url.raw_path.decode("ascii"),
            timestamp=timestamp,
            nonce=nonce,
            body=content,
        )
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            log.warning("wechatpay.unreachable", api=api, error=type(exc).__name__)
            raise WeChatPayUnavailable(f"WeChat Pay is unreachable ({api}): {exc!r}") from exc
        if not response.is_success:
            raise self._error(api, response)
        return response

    def _error(self, api: str, response: httpx.Response) -> WeChatPayError:
        request_id = response.headers.get("Request-ID")
        try:
            parsed = json.loads(response.content)
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else {}
        code = str(body["code"]) if body.get("code") else None
        message = str(body.get("message") or response.reason_phrase)
        error = error_for(response.status_code, code, message, request_id, body.get("detail"))
        log.warning(
            "wechatpay.error",
            api=api,
            status=response.status_code,
            code=code,
            message=message[:200],
            wechat_request_id=request_id,
            retryable=error.retryable,
        )
        return error

    async def _verified(self, api: str, response: httpx.Response) -> None:
        try:
            await self.verifier.verify(response.headers, response.content)
        except WeChatPaySignatureInvalid as exc:
            log.warning(
                "wechatpay.answer_refused",
                api=api,
                reason=exc.reason,
                wechat_request_id=response.headers.get("Request-ID"),
            )
            raise

    async def _call(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        serial = await self._serial_to_name()
        response = await self._send(api, method, path, params=params, body=body, serial=serial)
        await self._verified(api, response)
        return response

    @staticmethod
    def _read(api: str, response: httpx.Response, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise WeChatPayUnavailable(
                f"WeChat Pay's answer to {api} is not what v3 documents "
                f"({exc.error_count()} errors)",
                http_status=response.status_code,
                request_id=response.headers.get("Request-ID"),
            ) from None

    # -- payments --------------------------------------------------------------------------

    async def prepay_jsapi(self, order: JsapiPrepay) -> str:
        """``POST /v3/pay/transactions/jsapi`` → ``prepay_id`` (valid 2 hours)."""
        body = {
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            **order.model_dump(mode="json", exclude_none=True, by_alias=True),
        }
        response = await self._call("prepay", "POST", "/v3/pay/transactions/jsapi", body=body)
        try:
            return str(json.loads(response.content)["prepay_id"])
        except (ValueError, KeyError, TypeError):
            raise WeChatPayUnavailable("the prepay answer has no prepay_id") from None

    def request_payment(
        self, prepay_id: str, *, timestamp: int | None = None, nonce: str | None = None
    ) -> RequestPayment:
        """The ``wx.requestPayment`` fields, ``paySign`` with the merchant key."""
        time_stamp = str(int(self._clock()) if timestamp is None else timestamp)
        nonce_str = nonce or new_nonce()
        package = f"prepay_id={prepay_id}"
        sign = pay_sign(self.config.merchant_key, self.config.appid, time_stamp, nonce_str, package)
        return RequestPayment(
            time_stamp=time_stamp, nonce_str=nonce_str, package=package, pay_sign=sign
        )

    async def query_by_out_trade_no(self, out_trade_no: str) -> Transaction:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        response = await self._call("query", "GET", path, params={"mchid": self.config.mchid})
        return self._read("query", response, Transaction)

    async def query_by_transaction_id(self, transaction_id: str) -> Transaction:
        path = f"/v3/pay/transactions/id/{quote(transaction_id, safe='')}"
        response = await self._call("query", "GET", path, params={"mchid": self.config.mchid})
        return self._read("query", response, Transaction)

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (204, signed with an empty body)."""
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        await self._call("close", "POST", path, body={"mchid": self.config.mchid})

    # -- refunds ---------------------------------------------------------------------------

    async def create_refund(self, refund: RefundCreate) -> Refund:
        """Accepted is not refunded: the outcome comes from the notification or a query."""
        body = refund.model_dump(mode="json", exclude_none=True, by_alias=True)
        response = await self._call("refund", "POST", "/v3/refund/domestic/refunds", body=body)
        return self._read("refund", response, Refund)

    async def query_refund(self, out_refund_no: str) -> Refund:
        path = f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        response = await self._call("refund_query", "GET", path)
        return self._read("refund_query", response, Refund)

    # -- bills -----------------------------------------------------------------------------

    async def trade_bill(
        self,
        bill_date: date,
        bill_type: Literal["ALL", "SUCCESS", "REFUND"] = "ALL",
        *,
        gzip: bool = True,
    ) -> TradeBillLink:
        params = {"bill_date": bill_date.isoformat(), "bill_type": bill_type}
        if gzip:
            params["tar_type"] = "GZIP"
        response = await self._call("tradebill", "GET", "/v3/bill/tradebill", params=params)
        return self._read("tradebill", response, TradeBillLink)

    async def download_bill(self, link: TradeBillLink) -> bytes:
        """The bill file, gunzipped and checked against its SHA1. The download is signed
        (path and query) but its answer is not; only the path and query of ``download_url``
        are used, so our signature never goes to another host."""
        url = httpx.URL(link.download_url)
        path = url.path
        params = dict(url.params.multi_items())
        response = await self._send("billdownload", "GET", path, params=params or None)
        return unpack(response.content, link.hash_type, link.hash_value)

    async def fetch_trade_bill(
        self, bill_date: date, bill_type: Literal["ALL", "SUCCESS", "REFUND"] = "ALL"
    ) -> TradeBill:
        return parse_trade_bill(
            await self.download_bill(await self.trade_bill(bill_date, bill_type))
        )

    # -- platform certificates ------------------------------------------------------------------

    async def download_certificates(self) -> list[PlatformCertificate]:
        """``GET /v3/certificates``: decrypt each with the APIv3 key, then verify the answer
        with them (the AES-GCM tag proves they come from WeChat)."""
        serial = self.config.public_key_id if self.config.mode == "public_key" else None
        response = await self._send("certificates", "GET", "/v3/certificates", serial=serial)
        listing = self._read("certificates", response, CertificateList)
        downloaded = []
        for entry in listing.data:
            pem = decrypt_resource(self.config.apiv3_key, entry.encrypt_certificate)
            for cert in load_certificates(pem):
                platform = PlatformCertificate.of(cert)
                if platform.serial_no != entry.serial_no.upper():
                    raise WeChatPaySignatureInvalid("certificate_serial_mismatch")
                downloaded.append(platform)
        extra = {c.serial_no: c.public_key for c in downloaded}
        await self.verifier.verify(
            response.headers, response.content, extra_keys=extra, refresh=False
        )
        return downloaded


def create_wechatpay_client(
    settings: PaymentSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> WeChatPayClient:
    """The client as the payment service makes it in its lifespan (``aclose()`` at the end)."""
    config = config_from_settings(settings)
    http = create_http_client(
        settings.wechatpay_base_url,
        timeout=settings.wechatpay_timeout_s,
        connect_timeout=settings.wechatpay_connect_timeout_s,
        transport=transport,
    )
    return WeChatPayClient(http, config)


__all__ = ["WeChatPayClient", "create_wechatpay_client"]
