"""The hot path: one raw ASGI handler for ``/api/v1``, ``/admin/v1`` and ``/open/v1``.

Per request: request id → route and rule → body limit → authentication (member token, staff
token and roles, or supplier signature) → rate limits (one Redis step) → circuit breaker →
forward with the lean client in ``upstream`` (streamed both ways, hop-by-hop headers dropped,
``X-Auth-*`` headers) → access log and metrics. No FastAPI on this path: it costs too much.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import orjson
from prometheus_client import Counter as Counter_
from prometheus_client import Histogram
from redis.exceptions import RedisError
from shared.context import bind_request_id, current_request_id
from shared.errors import error_body
from shared.identity import (
    AUTH_HEADER_PREFIX,
    MEMBER_ID_HEADER,
    STAFF_ID_HEADER,
    STAFF_ROLES_HEADER,
    SUPPLIER_ID_HEADER,
)
from shared.logging import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from gateway.breaker import CircuitBreaker
from gateway.ratelimit import Counter, Decision, RateLimiter, RateLimiterUnavailable
from gateway.rules import Match, Router
from gateway.settings import GatewaySettings, RateLimit
from gateway.signatures import SignatureRejected, SignatureVerifier
from gateway.tokens import InvalidToken, TokenVerifier
from gateway.upstream import (
    ConnectFailed,
    UpstreamBroken,
    UpstreamError,
    UpstreamPool,
    UpstreamTimeout,
)

log = get_logger("access")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"x-request-id",
        b"x-forwarded-for",
    }
)
# uvicorn sets its own Date and Server headers on our answer.
FROM_UPSTREAM_DROPPED = HOP_BY_HOP | {b"date", b"server"}
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BUFFER_LIMIT = 64 * 1024  # bodies up to this size are sent whole; larger ones stream
AUTH_PREFIX = AUTH_HEADER_PREFIX.encode()


class Reject(Exception):
    """Answer the client with the one error shape, without reaching the upstream."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


class BodyTooLarge(Exception):
    pass


@dataclass
class Identity:
    headers: list[tuple[str, str]] = field(default_factory=list)
    subject: str | None = None  # for per-subject rate limits


@dataclass
class Resources:
    """Made in the lifespan; shared by the edge and the control routes."""

    tokens: TokenVerifier
    limiter: RateLimiter
    signatures: SignatureVerifier


class Edge:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.router = Router(settings)
        self.resources: Resources | None = None
        self.pools = {
            name: UpstreamPool(
                url.host or "127.0.0.1",
                url.port or 80,
                connect_timeout=settings.upstream_connect_timeout_s,
            )
            for name, url in ((n, URL(u)) for n, u in settings.upstreams.items())
        }
        self.breakers = {
            name: CircuitBreaker(settings.breaker_failures, settings.breaker_open_s)
            for name in settings.upstreams
        }
        self._cors = frozenset(o.encode() for o in settings.cors_origins)
        self._cors_any = b"*" in self._cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            headers[k] = v if k not in headers else headers[k] + b", " + v
        request_id = bind_request_id(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        method: str = scope["method"]
        path: str = scope["path"]
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        extra += self._cors_headers(headers)
        status, route, upstream = 500, "unmatched", "-"
        try:
            if method == "OPTIONS" and b"access-control-request-method" in headers:
                status = await self._preflight(headers, extra, send)
                return
            match = self.router.match(method, path)
            if match is None:
                raise Reject(404, "not_found", f"No service serves {path}.")
            route, upstream = match.rule.path, match.upstream
            status = await self._handle(scope, receive, send, headers, match, extra)
        except Reject as reject:
            status = reject.status
            await _send_error(send, reject, extra)
        finally:
            elapsed = time.perf_counter() - started
            _counter(method, route, status).inc()
            _histogram(method, route).observe(elapsed)
            log.info(
                "http.request",
                method=method,
                path=path,
                route=route,
                upstream=upstream,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        match: Match,
        extra: list[tuple[bytes, bytes]],
    ) -> int:
        length = headers.get(b"content-length")
        if length is not None and (
            not length.isdigit() or int(length) > self.settings.max_body_bytes
        ):
            raise Reject(413, "payload_too_large", "The request body is too large.")
        body: bytes | None = None
        if match.kind == "open" or (length is not None and int(length) <= BUFFER_LIMIT):
            body = await _read_body(receive, self.settings.max_body_bytes)
        identity, counters = await self._authenticate(scope, headers, match, body)
        decision = await self._rate_limit(counters)
        if decision is not None:
            extra += decision.headers()
        breaker = self.breakers[match.upstream]
        if not breaker.allow():
            raise Reject(
                503,
                "upstream_unavailable",
                f"{match.upstream} is unavailable (circuit open).",
                [(b"retry-after", str(breaker.retry_after_s()).encode())],
            )
        return await self._forward(scope, receive, send, headers, match, identity, body, extra)

    async def _authenticate(
        self, scope: Scope, headers: dict[bytes, bytes], match: Match, body: bytes | None
    ) -> tuple[Identity, list[Counter]]:
        assert self.resources is not None
        res, rule, limits = self.resources, match.rule, self.settings.rate_limits
        identity = Identity()
        client_ip = self._client_ip(scope, headers)
        counters = [Counter(f"ip:{client_ip}", limits["ip"])]
        if match.kind == "open":
            try:
                key = await res.signatures.verify(
                    scope["method"],
                    scope["path"],
                    scope["query_string"].decode("latin-1"),
                    {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()},
                    body or b"",
                )
            except SignatureRejected as exc:
                raise Reject(401, "invalid_signature", str(exc)) from exc
            except (RedisError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise Reject(
                    503, "service_unavailable", "Signatures cannot be checked now."
                ) from exc
            identity.headers.append((SUPPLIER_ID_HEADER, key.supplier_id))
            # Quotas are the supplier's, whichever of its keys signs.
            identity.subject = supplier = f"supplier:{key.supplier_id}"
            counters += [
                Counter(f"{supplier}:minute", RateLimit(limit=key.per_minute, period_s=60)),
                Counter(f"{supplier}:day", RateLimit(limit=key.daily_quota, period_s=86_400)),
            ]
        else:
            token = _bearer(headers)
            settings = self.settings
            admin = match.kind == "admin"
            # Admin routes also accept member tokens so that they can be told apart: 403.
            audiences = (
                (settings.jwt_staff_audience, settings.jwt_member_audience)
                if admin
                else (settings.jwt_member_audience,)
            )
            claims = None
            if token is not None:
                try:
                    claims = await res.tokens.verify(token, audiences)
                except InvalidToken as exc:
                    if not rule.public:
                        raise _unauthorized(f"The access token is not valid: {exc}.") from exc
            if claims is None and not rule.public:
                raise _unauthorized("An access token is required.")
            if claims is not None and admin:
                if claims.audience != settings.jwt_staff_audience:
                    if not rule.public:
                        raise Reject(403, "forbidden", "A staff token is required here.")
                elif not rule.public and not _role_allowed(claims.roles, rule.roles):
                    raise Reject(403, "forbidden", "Your role does not allow this.")
                else:
                    identity.headers += [
                        (STAFF_ID_HEADER, claims.subject),
                        (STAFF_ROLES_HEADER, ",".join(claims.roles)),
                    ]
                    identity.subject = f"staff:{claims.subject}"
            elif claims is not None:
                identity.headers.append((MEMBER_ID_HEADER, claims.subject))
                identity.subject = f"member:{claims.subject}"
        subject = identity.subject or f"ip:{client_ip}"
        counters.append(Counter(f"{rule.rate_class}:{subject}", limits[rule.rate_class]))
        # A class may also be limited per client IP for callers with a token (flash sales:
        # per member and per IP), set as "<class>_ip" in the rate limits.
        per_ip = limits.get(f"{rule.rate_class}_ip")
        if per_ip is not None and identity.subject is not None:
            counters.append(Counter(f"{rule.rate_class}:ip:{client_ip}", per_ip))
        return identity, counters

    async def _rate_limit(self, counters: list[Counter]) -> Decision | None:
        assert self.resources is not None
        try:
            decision = await self.resources.limiter.check(counters)
        except RateLimiterUnavailable as exc:
            if self.settings.rate_limit_failure_mode == "closed":
                raise Reject(
                    503, "rate_limiter_unavailable", "Requests cannot be admitted right now."
                ) from exc
            log.warning("gateway.rate_limiter_unavailable", error=str(exc))
            return None
        if not decision.allowed:
            raise Reject(429, "rate_limited", "Too many requests.", decision.headers())
        return decision

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        match: Match,
        identity: Identity,
        body: bytes | None,
        extra: list[tuple[bytes, bytes]],
    ) -> int:
        method: str = scope["method"]
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        outgoing = self._upstream_headers(scope, headers, identity)
        stream = None
        if body is None and (b"content-length" in headers or b"transfer-encoding" in headers):
            stream = BodyStream(receive, self.settings.max_body_bytes)
        timeout = match.rule.timeout_s or self.settings.upstream_timeout_s
        pool = self.pools[match.upstream]
        breaker = self.breakers[match.upstream]
        retries = self.settings.upstream_connect_retries if stream is None else 0
        for attempt in range(retries + 1):
            try:
                data = stream.__aiter__() if stream is not None else body
                response = await pool.request(method, target, outgoing, data, timeout)
                break
            except ConnectFailed as exc:
                if attempt < retries and method in IDEMPOTENT:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                breaker.failed()
                log.warning("gateway.upstream_unreachable", upstream=match.upstream, error=str(exc))
                raise Reject(
                    503, "upstream_unavailable", f"{match.upstream} is unavailable."
                ) from exc
            except UpstreamBroken as exc:
                if exc.nothing_received and attempt < retries and method in IDEMPOTENT:
                    continue  # a keep-alive connection the upstream had closed
                breaker.failed()
                raise Reject(502, "bad_gateway", f"{match.upstream} failed: {exc}.") from exc
            except UpstreamTimeout as exc:
                breaker.failed()
                raise Reject(
                    504, "upstream_timeout", f"{match.upstream} did not answer in time."
                ) from exc
            except BodyTooLarge as exc:
                raise Reject(413, "payload_too_large", "The body is too large.") from exc
        try:
            status = response.status
            if status in (502, 503, 504):
                breaker.failed()
            else:
                breaker.succeeded()
            out = [(k, v) for k, v in response.headers if k not in FROM_UPSTREAM_DROPPED] + extra
            length = response.content_length
            if length is not None and length <= BUFFER_LIMIT * 4:
                try:
                    payload = await response.read()
                except UpstreamError as exc:
                    breaker.failed()
                    raise Reject(502, "bad_gateway", f"{match.upstream} failed: {exc}.") from exc
                out.append((b"content-length", str(len(payload)).encode()))
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": payload})
                return status
            await send({"type": "http.response.start", "status": status, "headers": out})
            try:
                async for chunk in response.iter_chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except UpstreamError as exc:
                log.warning(
                    "gateway.upstream_stream_broken", upstream=match.upstream, error=str(exc)
                )
            await send({"type": "http.response.body", "body": b""})
            return status
        finally:
            response.release()

    def _upstream_headers(
        self, scope: Scope, headers: dict[bytes, bytes], identity: Identity
    ) -> list[tuple[bytes, bytes]]:
        connection = {
            t.strip().lower() for t in headers.get(b"connection", b"").split(b",") if t.strip()
        }
        out = [
            (k, v)
            for k, v in scope["headers"]
            if k not in HOP_BY_HOP and k not in connection and not k.startswith(AUTH_PREFIX)
        ]
        out += [(k.encode(), v.encode()) for k, v in identity.headers]
        out.append((b"x-request-id", (current_request_id() or "").encode()))
        out.append((b"x-forwarded-for", self._forwarded_for(scope, headers).encode()))
        return out

    def _client_ip(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        trusted = self.settings.trusted_proxies
        peer = scope["client"][0] if scope.get("client") else "unknown"
        if trusted <= 0:
            return str(peer)
        hops = [
            h.strip()
            for h in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
            if h.strip()
        ]
        chain = [*hops, str(peer)]
        return chain[max(len(chain) - 1 - trusted, 0)]

    def _forwarded_for(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = scope["client"][0] if scope.get("client") else "unknown"
        prior = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        return f"{prior}, {peer}" if prior and self.settings.trusted_proxies > 0 else str(peer)

    def _cors_headers(self, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        origin = headers.get(b"origin")
        if origin is None or not (self._cors_any or origin in self._cors):
            return []
        return [
            (b"access-control-allow-origin", origin),
            (b"vary", b"Origin"),
            (
                b"access-control-expose-headers",
                b"X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After",
            ),
        ]

    async def _preflight(
        self, headers: dict[bytes, bytes], extra: list[tuple[bytes, bytes]], send: Send
    ) -> int:
        if len(extra) == 1:  # origin not allowed: no CORS headers at all
            raise Reject(403, "cors_forbidden", "This origin may not call the API.")
        requested = headers.get(b"access-control-request-headers", b"")
        extra += [
            (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            (b"access-control-allow-headers", requested or b"Authorization, Content-Type"),
            (b"access-control-max-age", b"600"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": extra})
        await send({"type": "http.response.body", "body": b""})
        return 204


@functools.cache
def _counter(method: str, route: str, status: int) -> Counter_:
    return HTTP_REQUESTS.labels("gateway", method, route, str(status))


@functools.cache
def _histogram(method: str, route: str) -> Histogram:
    return HTTP_LATENCY.labels("gateway", method, route)


def _role_allowed(have: tuple[str, ...], need: list[str]) -> bool:
    return "admin" in have or any(role in have for role in need)


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization")
    if value is None or value[:7].lower() != b"bearer ":
        return None
    return value[7:].strip().decode("latin-1") or None


def _unauthorized(message: str) -> Reject:
    return Reject(
        401, "unauthenticated", message, [(b"www-authenticate", b'Bearer error="invalid_token"')]
    )


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise Reject(400, "client_disconnected", "The client went away.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Reject(413, "payload_too_large", "The request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyStream:
    """The client's body streamed to the upstream, cut off past ``limit`` bytes."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self.too_large = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                self.too_large = True
                raise BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


async def _send_error(send: Send, reject: Reject, extra: list[tuple[bytes, bytes]]) -> None:
    payload = orjson.dumps(error_body(reject.code, reject.message))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *extra,
        *reject.headers,
    ]
    await send({"type": "http.response.start", "status": reject.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
