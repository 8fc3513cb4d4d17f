"""The two hot public reads, served by a raw ASGI handler in front of FastAPI.

Profiling the detail through the gateway (py-spy) showed about 85% of the catalog's CPU in
FastAPI and Starlette (middleware layers, matching ~50 routes, dependency solving, the
``Response`` object) and about 10% in the cache itself. So ``GET
/api/v1/catalog/products/{id}`` and ``GET /api/v1/catalog/products?…`` are answered here,
with the same request id header, metrics and access log as ``RequestContextMiddleware``.

Only the plain success case is served here. Anything else (a malformed id or parameter, an
unknown or repeated parameter, a product that is not found, an error while loading) goes on
to the FastAPI app unchanged, which validates, answers the error shape and logs exactly as
before: the fast path never answers differently from the full stack.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client.metrics import Counter, Histogram
from shared.context import REQUEST_ID_HEADER, bind_request_id
from shared.logging import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.pagination import MAX_PAGE_SIZE, PageParams
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.search.schemas import ProductFilters, SortOrder
from catalog.search.text import normalize

log = get_logger("access")

PRODUCTS = "/api/v1/catalog/products"
DETAIL_ROUTE = "/api/v1/catalog/products/{product_id}"
_DETAIL_PREFIX = PRODUCTS + "/"
_HEADER = REQUEST_ID_HEADER.lower().encode()
_JSON = (b"content-type", b"application/json")
_SORTS = {s.value: s for s in SortOrder}
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_INT_PARAMS = {"min_price_fen", "max_price_fen", "page", "page_size"}
_UUID_PARAMS = {"category_id", "brand_id"}
_MAX_Q = 64
_MAX_PAGE = 100_000
_MAX_INT = 2**63 - 1
_PARSED_MAX = 4096  # query strings whose parse is kept (a pure function of the string)

DetailLoader = Callable[[uuid.UUID], Awaitable[bytes | None]]
SearchLoader = Callable[[ProductFilters, PageParams], Awaitable[bytes]]


def parse_detail_path(path: str) -> uuid.UUID | None:
    """The product id of ``/api/v1/catalog/products/<canonical uuid>``, else None."""
    if not path.startswith(_DETAIL_PREFIX) or len(path) != len(_DETAIL_PREFIX) + 36:
        return None
    raw = path[len(_DETAIL_PREFIX) :]
    if raw[8] != "-" or raw[13] != "-" or raw[18] != "-" or raw[23] != "-":
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _digits(value: str, low: int, high: int) -> int | None:
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if low <= number <= high else None


def parse_search_query(query: str) -> tuple[ProductFilters, PageParams] | None:
    """The filters and page of a list request, or None for anything this parser does not
    accept exactly as FastAPI would (then the full stack handles it)."""
    values: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    for key, value in pairs:
        if key in values:
            return None  # repeated: leave the choice to FastAPI
        if key == "q":
            if len(value) > _MAX_Q:
                return None
            values[key] = normalize(value)  # as the search does: one form per answer
        elif key == "sort":
            sort = _SORTS.get(value)
            if sort is None:
                return None
            values[key] = sort
        elif key == "in_stock":
            flag = _BOOLS.get(value)
            if flag is None:
                return None
            values[key] = flag
        elif key in _INT_PARAMS:
            high = {"page": _MAX_PAGE, "page_size": MAX_PAGE_SIZE}.get(key, _MAX_INT)
            number = _digits(value, 1 if key in ("page", "page_size") else 0, high)
            if number is None:
                return None
            values[key] = number
        elif key in _UUID_PARAMS:
            if len(value) != 36:
                return None
            try:
                values[key] = uuid.UUID(value)
            except ValueError:
                return None
        else:
            return None
    params = PageParams(page=values.pop("page", 1), page_size=values.pop("page_size", 20))
    return ProductFilters(**values), params


class _Metrics:
    """Metric children looked up once per (route, status), not on every request."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._counters: dict[str, Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def observe(self, route: str, elapsed: float) -> None:
        counter = self._counters.get(route)
        if counter is None:
            counter = self._counters[route] = HTTP_REQUESTS.labels(
                self._service, "GET", route, "200"
            )
            self._latency[route] = HTTP_LATENCY.labels(self._service, "GET", route)
        counter.inc()
        self._latency[route].observe(elapsed)


class HotReads:
    """ASGI: product detail and search answered from the caches; the rest to ``app``.

    ``bind`` gives it the loaders once the lifespan has made them; before that (and for
    anything it does not serve) every request goes to ``app``.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self._metrics = _Metrics(service)
        self._detail: DetailLoader | None = None
        self._search: SearchLoader | None = None
        self._parsed: dict[bytes, tuple[ProductFilters, PageParams] | None] = {}

    def bind(self, detail: DetailLoader | None, search: SearchLoader | None) -> None:
        self._detail = detail
        self._search = search

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path == PRODUCTS:
                served = await self._serve_search(scope, send)
            else:
                served = path.startswith(_DETAIL_PREFIX) and await self._serve_detail(
                    scope, send, path
                )
            if served:
                return
        await self.app(scope, receive, send)

    async def _serve_detail(self, scope: Scope, send: Send, path: str) -> bool:
        product_id = parse_detail_path(path)
        if product_id is None or self._detail is None:
            return False
        started = time.perf_counter()
        try:
            body = await self._detail(product_id)
        except Exception:  # the full stack retries and answers the error as usual
            return False
        if body is None:
            return False  # not found: the FastAPI route answers product_not_found
        await self._answer(scope, send, body, DETAIL_ROUTE, started)
        return True

    async def _serve_search(self, scope: Scope, send: Send) -> bool:
        query: bytes = scope["query_string"]
        try:
            parsed = self._parsed[query]
        except KeyError:
            parsed = parse_search_query(query.decode("latin-1"))
            if len(self._parsed) >= _PARSED_MAX:
                self._parsed.clear()
            self._parsed[query] = parsed
        if parsed is None or self._search is None:
            return False
        started = time.perf_counter()
        try:
            body = await self._search(*parsed)
        except Exception:
            return False
        await self._answer(scope, send, body, PRODUCTS, started)
        return True

    async def _answer(
        self, scope: Scope, send: Send, body: bytes, route: str, started: float
    ) -> None:
        incoming = next((v for k, v in scope["headers"] if k == _HEADER), b"")
        request_id = bind_request_id(incoming.decode("latin-1") or None)
        headers = [
            _JSON,
            (b"content-length", str(len(body)).encode()),
            (_HEADER, request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        self._metrics.observe(route, elapsed)
        log.info(
            "http.request",
            method="GET",
            path=scope["path"],
            route=route,
            status=200,
            duration_ms=round(elapsed * 1000, 2),
        )
