"""A stand-in upstream for gateway tests: echoes what it received, serves a JWKS and API keys.

``uvicorn tests.apps.echo:create_app --factory``. ``ECHO_JWKS_FILE`` and ``ECHO_API_KEYS_FILE``
name JSON files the test rewrites (key rotation, revocation). It logs through the shared
middleware, so a test can find the request id in its log.
"""

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from shared.logging import configure_logging
from shared.middleware import RequestContextMiddleware


def create_app() -> FastAPI:
    configure_logging("echo", "INFO", True)
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, service="echo")
    jwks = Path(os.environ.get("ECHO_JWKS_FILE", "/nonexistent"))
    api_keys = Path(os.environ.get("ECHO_API_KEYS_FILE", "/nonexistent"))

    @app.get("/healthz")
    @app.get("/readyz")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    async def keys() -> Any:
        return json.loads(jwks.read_text()) if jwks.exists() else {"keys": []}

    @app.get("/internal/v1/api-keys/{key_id}")
    async def api_key(key_id: str) -> Response:
        known = json.loads(api_keys.read_text()) if api_keys.exists() else {}
        if key_id not in known:
            return JSONResponse({"error": {"code": "not_found"}}, status_code=404)
        return JSONResponse(known[key_id])

    @app.get("/api/v1/catalog/big")
    async def big(size: int) -> StreamingResponse:
        async def chunks() -> Any:
            for _ in range(size // 65536):
                yield b"x" * 65536

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(path: str, request: Request) -> Response:
        if "sleep" in request.query_params:
            await asyncio.sleep(float(request.query_params["sleep"]))
        if "status" in request.query_params:
            return JSONResponse(
                {"status": "forced"}, status_code=int(request.query_params["status"])
            )
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body_length": len(body),
            }
        )

    return app
