"""The baseline behind the gateway in the catalog bench: FastAPI hello on a catalog path."""

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def keys() -> Any:
        return {"keys": []}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/catalog/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
