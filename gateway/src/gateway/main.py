"""The gateway: ``uvicorn gateway.main:create_app --factory``.

``/api/v1``, ``/admin/v1`` and ``/open/v1`` go through the raw ASGI ``Edge`` (the hot path);
everything else (health, readiness of the services, metrics, the merged OpenAPI documents)
is a small FastAPI app.
"""

import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from shared.errors import error_response, install_error_handlers
from shared.health import Check, Draining, drain_on_sigterm, health_router, run_checks
from shared.logging import configure_logging
from shared.middleware import RequestContextMiddleware
from shared.redis import create_redis
from shared.redis_pipe import RedisPipe
from starlette.types import Receive, Scope, Send

from gateway.edge import Edge, Resources
from gateway.openapi import OpenApiMerger
from gateway.ratelimit import RateLimiter
from gateway.rules import PREFIXES
from gateway.settings import GatewaySettings
from gateway.signatures import ApiKeyStore, SignatureVerifier
from gateway.tokens import KeySet, TokenVerifier


def _checks(request: Request) -> Mapping[str, Check]:
    return {"redis": request.app.state.redis.ping}


def _upstream_checks(request: Request) -> Mapping[str, Check]:
    session: aiohttp.ClientSession = request.app.state.http
    settings: GatewaySettings = request.app.state.settings

    def check(base_url: str) -> Check:
        async def probe() -> None:
            async with session.get(base_url + "/readyz") as response:
                if response.status != 200:
                    raise RuntimeError(f"readyz answered {response.status}")

        return probe

    return {name: check(url) for name, url in settings.upstreams.items()}


def _control_app(settings: GatewaySettings, edge: Edge) -> FastAPI:
    draining = Draining()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.redis = create_redis(settings.redis_url)
        app.state.redis_pipe = RedisPipe(settings.redis_url)
        app.state.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=settings.upstream_connect_timeout_s,
                sock_read=settings.upstream_timeout_s,
            ),
            connector=aiohttp.TCPConnector(
                limit=1000, limit_per_host=256, ttl_dns_cache=300, keepalive_timeout=30
            ),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        member = settings.upstreams.get("member", "")
        keys = KeySet(app.state.http, member + settings.jwks_path, settings.jwks_refresh_s)
        edge.resources = Resources(
            tokens=TokenVerifier(keys, settings.jwt_issuer, settings.jwt_leeway_s),
            limiter=RateLimiter(app.state.redis_pipe),
            signatures=SignatureVerifier(
                ApiKeyStore(app.state.http, member, settings.api_key_cache_s),
                app.state.redis,
                settings.signature_window_s,
            ),
        )
        app.state.openapi = OpenApiMerger(settings, app.state.http)
        # Start-up objects live as long as the process: keep them out of the collector's
        # full passes, which otherwise show up as tail latency on the hot path.
        gc.collect()
        gc.freeze()
        try:
            with drain_on_sigterm(draining, settings.shutdown_drain_s):
                yield
        finally:
            edge.resources = None
            await app.state.http.close()
            await app.state.redis_pipe.close()
            await app.state.redis.aclose()

    app = FastAPI(
        title="minimall gateway", version="1", lifespan=lifespan, docs_url=None, openapi_url=None
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health_router(_checks, draining=draining))

    @app.get("/readyz/services", tags=["health"], summary="Readiness of every upstream service")
    async def services_ready(request: Request) -> JSONResponse:
        results = await run_checks(_upstream_checks(request))
        if all(r == "ok" for r in results.values()):
            return JSONResponse({"status": "ready", "services": results})
        details = [{"service": name, "result": r} for name, r in results.items()]
        return error_response(503, "not_ready", "A service is not ready.", details)

    @app.get("/openapi.json", include_in_schema=False)
    async def public_openapi(request: Request) -> dict[str, Any]:
        public, _ = await request.app.state.openapi.documents()
        return dict(public)

    @app.get("/open/openapi.json", include_in_schema=False)
    async def supplier_openapi(request: Request) -> dict[str, Any]:
        _, supplier = await request.app.state.openapi.documents()
        return dict(supplier)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="minimall API")

    @app.get("/open/docs", include_in_schema=False)
    async def open_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/open/openapi.json", title="minimall open API")

    return app


class Gateway:
    def __init__(self, control: FastAPI, edge: Edge) -> None:
        self.control = control
        self.edge = edge
        self.state = control.state
        self.router = control.router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIXES):
            await self.edge(scope, receive, send)
        else:
            await self.control(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    edge = Edge(settings)
    return Gateway(_control_app(settings, edge), edge)
