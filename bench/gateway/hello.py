"""The service behind the gateway in the benchmark: FastAPI hello, plus the JWKS it trusts."""

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()
    jwks = json.loads(Path(os.environ["BENCH_JWKS_FILE"]).read_text())

    @app.get("/.well-known/jwks.json")
    async def keys() -> Any:
        return jwks

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/orders/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
