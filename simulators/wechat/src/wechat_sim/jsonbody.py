"""JSON in and out the way WeChat does it (compact, UTF-8, sometimes as text/plain)."""

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response


def json_response(body: dict[str, Any], *, media_type: str = "application/json") -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content=content, media_type=media_type)


async def read_json_object(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (WeChat answers 47001)."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
