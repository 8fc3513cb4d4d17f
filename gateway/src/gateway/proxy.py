"""Forward a request to its upstream and stream the answer back.

aiohttp, not httpx, on this hot path (see the brief's speed facts). Hop-by-hop headers
are dropped both ways; the request id always goes along.
"""

from collections.abc import AsyncIterator

import aiohttp
from fastapi import Request
from shared.context import REQUEST_ID_HEADER, current_request_id
from shared.errors import error_response
from shared.logging import get_logger
from starlette.responses import Response, StreamingResponse

log = get_logger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def forward_headers(request: Request) -> dict[str, str]:
    connection_listed = {
        h.strip().lower() for h in request.headers.get("connection", "").split(",") if h.strip()
    }
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in connection_listed
    }
    headers[REQUEST_ID_HEADER] = current_request_id() or ""
    if request.client:
        prior = request.headers.get("x-forwarded-for")
        headers["X-Forwarded-For"] = (
            f"{prior}, {request.client.host}" if prior else request.client.host
        )
    return headers


async def proxy(
    request: Request, session: aiohttp.ClientSession, base_url: str, upstream: str
) -> Response:
    url = base_url + request.url.path
    has_body = request.method not in ("GET", "HEAD", "OPTIONS", "DELETE")
    try:
        upstream_response = await session.request(
            request.method,
            url,
            params=list(request.query_params.multi_items()),
            headers=forward_headers(request),
            data=request.stream() if has_body else None,
            allow_redirects=False,
            auto_decompress=False,
        )
    except TimeoutError:
        return error_response(504, "upstream_timeout", f"{upstream} did not answer in time.")
    except aiohttp.ClientError as exc:
        log.warning("gateway.upstream_unreachable", upstream=upstream, error=repr(exc))
        return error_response(502, "upstream_unavailable", f"{upstream} is unavailable.")

    headers = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream_response.content.iter_chunked(64 * 1024):
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("gateway.upstream_stream_broken", upstream=upstream, error=repr(exc))
        finally:
            upstream_response.release()

    return StreamingResponse(body(), status_code=upstream_response.status, headers=headers)
