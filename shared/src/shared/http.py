"""Typed HTTP clients between services: timeouts and the request id on every call.

httpx suits low-volume service-to-service calls (not the gateway's hot path). Each service
writes a small typed client on top of ``ServiceClient``; an upstream error body is re-raised
as ``UpstreamError`` carrying the upstream's code and status.
"""

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from shared.context import REQUEST_ID_HEADER, current_request_id
from shared.errors import AppError, ServiceUnavailable

ModelT = TypeVar("ModelT", bound=BaseModel)


class UpstreamError(AppError):
    """An upstream answered with an error body; its status and code are kept."""

    def __init__(
        self, status_code: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.status_code = status_code  # type: ignore[misc]
        self.code = code  # type: ignore[misc]


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def create_http_client(
    base_url: str,
    *,
    timeout: float = 5.0,
    connect_timeout: float = 1.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        event_hooks={"request": [_add_request_id]},
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


class ServiceClient:
    """Base of typed clients: ``await self._call("GET", "/x", OrderRead)``."""

    def __init__(self, client: httpx.AsyncClient, upstream: str) -> None:
        self._client = client
        self._upstream = upstream

    async def _call(self, method: str, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{self._upstream} is unreachable: {exc!r}") from exc
        if response.is_error:
            raise _upstream_error(self._upstream, response)
        return model.model_validate_json(response.content)


def _upstream_error(upstream: str, response: httpx.Response) -> UpstreamError:
    try:
        error = response.json()["error"]
        details = error.get("details")
        return UpstreamError(
            response.status_code,
            str(error["code"]),
            str(error["message"]),
            details if isinstance(details, list) else None,
        )
    except (ValueError, KeyError, TypeError):
        return UpstreamError(
            response.status_code, "upstream_error", f"{upstream} answered {response.status_code}"
        )
