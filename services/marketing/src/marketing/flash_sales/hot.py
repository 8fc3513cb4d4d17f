"""The purchase call and the ticket poll, served by a raw ASGI handler in front of FastAPI
(as catalog does for its hot reads): no routing table, no dependency solving, no ORM, one
Lua call to Redis.

Only definite answers are given here: an accepted purchase (202), a Lua refusal (409/422),
a missing or bad purchase token (403), a ticket Redis knows. Anything else (no member
header, a body that does not parse, a sale Redis does not hold, an unknown ticket, an error
while calling Redis) goes on to the FastAPI app unchanged, which validates, looks at
PostgreSQL and answers the error shape as usual.
"""

import time
import uuid
from typing import Any

import orjson
from fastapi import FastAPI
from prometheus_client.metrics import Counter, Histogram
from shared.context import REQUEST_ID_HEADER, bind_request_id
from shared.logging import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from starlette.types import Message, Receive, Scope, Send

from marketing.flash_sales.desk import Answer, Desk, shared_desk
from marketing.flash_sales.store import sale_of_ticket
from marketing.settings import MarketingSettings

log = get_logger("access")

PREFIX = "/api/v1/marketing/flash-sales/"
PURCHASE_ROUTE = "/api/v1/marketing/flash-sales/{sale_id}/purchase"
TICKET_ROUTE = "/api/v1/marketing/flash-sales/tickets/{ticket}"
_TICKETS = PREFIX + "tickets/"
_SUFFIX = "/purchase"
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_MEMBER = b"x-auth-member-id"
_TOKEN = b"x-purchase-token"
_IDEMPOTENCY = b"idempotency-key"
_JSON = (b"content-type", b"application/json")
_MAX_BODY = 4096
_BODY_KEYS = frozenset({"sku_id", "quantity", "token", "address_id"})
_sales: dict[str, uuid.UUID] = {}  # path → sale id, for the few sales that run at a time
_skus: dict[str, str] = {}  # sku id as sent → canonical form


class _Metrics:
    def __init__(self, service: str) -> None:
        self._service = service
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                HTTP_REQUESTS.labels(self._service, method, route, str(status)),
                HTTP_LATENCY.labels(self._service, method, route),
            )
        children[0].inc()
        children[1].observe(elapsed)


def parse_purchase_path(path: str) -> uuid.UUID | None:
    known = _sales.get(path)
    if known is not None:
        return known
    if not path.startswith(PREFIX) or not path.endswith(_SUFFIX):
        return None
    raw = path[len(PREFIX) : -len(_SUFFIX)]
    if len(raw) != 36:
        return None
    try:
        sale_id = uuid.UUID(raw)
    except ValueError:
        return None
    if len(_sales) > 1000:
        _sales.clear()
    _sales[path] = sale_id
    return sale_id


def _canonical(value: str) -> str:
    """A UUID string in canonical form (raises ValueError)."""
    known = _skus.get(value)
    if known is None:
        if len(_skus) > 1000:
            _skus.clear()
        known = _skus[value] = str(uuid.UUID(value))
    return known


def parse_purchase_body(body: bytes) -> tuple[str, int, str | None, str | None] | None:
    """``(sku_id, quantity, token, address_id)`` of a well-formed body, else None."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not _BODY_KEYS.issuperset(data):
        return None
    sku, quantity = data.get("sku_id"), data.get("quantity", 1)
    token, address = data.get("token"), data.get("address_id")
    if not isinstance(sku, str) or type(quantity) is not int or not 1 <= quantity <= 1000:
        return None
    if token is not None and not isinstance(token, str):
        return None
    if address is not None and not isinstance(address, str):
        return None
    try:
        sku = _canonical(sku)
        address = str(uuid.UUID(address)) if address is not None else None
    except ValueError:
        return None
    return sku, quantity, token, address


class FlashSaleHotPath:
    """ASGI: purchase and ticket answered from Redis; everything else to ``app``."""

    def __init__(self, app: FastAPI, settings: MarketingSettings) -> None:
        self.app = app
        self._settings = settings
        self._metrics = _Metrics(settings.service_name)
        self._desk: Desk | None = None

    @property
    def desk(self) -> Desk:
        if self._desk is None:  # made in the serving event loop, on first use
            self._desk = shared_desk(self.app, self._settings)
        return self._desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] == "http":
            path: str = scope["path"]
            method: str = scope["method"]
            if method == "POST" and path.endswith(_SUFFIX):
                sale_id = parse_purchase_path(path)
                if sale_id is not None:
                    await self._purchase(scope, receive, send, sale_id)
                    return
            elif (
                method == "GET"
                and path.startswith(_TICKETS)
                and await self._ticket(scope, send, path[len(_TICKETS) :])
            ):
                return
        await self.app(scope, receive, send)

    async def _purchase(
        self, scope: Scope, receive: Receive, send: Send, sale_id: uuid.UUID
    ) -> None:
        started = time.perf_counter()
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False) and len(body) <= _MAX_BODY
        headers = dict(scope["headers"])
        answer: Answer | None = None
        parsed = parse_purchase_body(body) if not more else None
        member = _member(headers.get(_MEMBER))
        if parsed is not None and member:
            sku_id, quantity, token, address = parsed
            token = token or _text(headers.get(_TOKEN))
            try:
                answer = await self.desk.purchase(
                    sale_id,
                    member,
                    sku_id,
                    quantity,
                    token,
                    _text(headers.get(_IDEMPOTENCY)),
                    address,
                )
            except Exception as exc:  # Redis away: the full stack answers (503)
                log.warning("flash_sale.hot_path_error", error=repr(exc))
                answer = None
        if answer is None:
            await self.app(scope, _replay(body, receive, more), send)
            return
        await self._answer(scope, send, answer, "POST", PURCHASE_ROUTE, started)

    async def _ticket(self, scope: Scope, send: Send, ticket: str) -> bool:
        sale_id = sale_of_ticket(ticket)
        member = _member(dict(scope["headers"]).get(_MEMBER))
        if sale_id is None or not member:
            return False
        started = time.perf_counter()
        try:
            answer = await self.desk.ticket(sale_id, ticket, member)
        except Exception:
            return False
        if answer is None:
            return False
        await self._answer(scope, send, answer, "GET", TICKET_ROUTE, started)
        return True

    def _closing(self, send: Send) -> Send:
        """``send`` for the lifespan: the Redis connection is closed at shutdown."""

        async def closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self._desk is not None:
                await self._desk.pipe.close()
            await send(message)

        return closing

    async def _answer(
        self, scope: Scope, send: Send, answer: Answer, method: str, route: str, started: float
    ) -> None:
        incoming = next((v for k, v in scope["headers"] if k == _REQUEST_ID), b"")
        request_id = bind_request_id(incoming.decode("latin-1") or None)
        payload: dict[str, Any] = answer.body
        if "error" in payload:
            payload["error"]["request_id"] = request_id
        body = orjson.dumps(payload)
        headers = [
            _JSON,
            (b"content-length", str(len(body)).encode()),
            (_REQUEST_ID, request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        self._metrics.observe(method, route, answer.status, elapsed)
        log.info(
            "http.request",
            method=method,
            path=scope["path"],
            route=route,
            status=answer.status,
            duration_ms=round(elapsed * 1000, 2),
        )


def _member(value: bytes | None) -> str | None:
    """The member id header as a canonical UUID, else None (the full stack answers 401)."""
    if not value or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value.decode("latin-1")))
    except ValueError:
        return None


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None


def _replay(body: bytes, receive: Receive, more: bool) -> Receive:
    """A ``receive`` that gives the body already read, then the rest of the request."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
