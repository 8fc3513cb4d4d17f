"""Pure ASGI middleware: request id in and out, JSON access log, metrics per route."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import REQUEST_ID_HEADER, bind_request_id
from shared.errors import error_response
from shared.logging import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = get_logger("access")

_HEADER = REQUEST_ID_HEADER.lower().encode()
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/orders/{order_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == _HEADER), b"")
        request_id = bind_request_id(incoming.decode("latin-1") or None)
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != _HEADER]
                headers.append((_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Anything the error handlers did not turn into a response: log it, answer the
            # one error shape, never the exception's text.
            log.exception("http.unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            response = error_response(500, "internal_error", "An unexpected error occurred.")
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)
            if scope["path"] not in _QUIET_PATHS:
                log.info(
                    "http.request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
