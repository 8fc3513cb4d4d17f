"""The gateway app: ``uvicorn gateway.main:create_app --factory``.

Routes ``/api/v1/<area>/…``, ``/admin/v1/<area>/…`` and ``/open/v1/<area>/…`` to the
service that owns the area (``GatewaySettings.routes``). Auth, rate limits and the rest of
the edge arrive with the Gateway issue.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from shared.errors import NotFound, error_response, install_error_handlers
from shared.health import Check, health_router, run_checks
from shared.logging import configure_logging
from shared.middleware import RequestContextMiddleware
from shared.redis import create_redis
from starlette.responses import Response

from gateway.proxy import proxy
from gateway.settings import GatewaySettings

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


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


def _proxy_router(settings: GatewaySettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def forward(request: Request, area: str) -> Response:
        upstream = settings.routes.get(area)
        if upstream is None or upstream not in settings.upstreams:
            raise NotFound(f"No service serves /{area}.")
        return await proxy(request, request.app.state.http, settings.upstreams[upstream], upstream)

    for prefix in ("/api/v1", "/admin/v1", "/open/v1"):
        router.add_api_route(f"{prefix}/{{area}}", forward, methods=PROXY_METHODS)
        router.add_api_route(f"{prefix}/{{area}}/{{rest:path}}", forward, methods=PROXY_METHODS)
    return router


def create_app() -> FastAPI:
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.redis = create_redis(settings.redis_url)
        app.state.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=settings.upstream_connect_timeout_s,
                sock_read=settings.upstream_timeout_s,
            ),
            connector=aiohttp.TCPConnector(limit=1000, limit_per_host=200, ttl_dns_cache=300),
            auto_decompress=False,
        )
        try:
            yield
        finally:
            await app.state.http.close()
            await app.state.redis.aclose()

    app = FastAPI(title="minimall gateway", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health_router(_checks))

    @app.get("/readyz/services", tags=["health"], summary="Readiness of every upstream service")
    async def services_ready(request: Request) -> JSONResponse:
        results = await run_checks(_upstream_checks(request))
        if all(r == "ok" for r in results.values()):
            return JSONResponse({"status": "ready", "services": results})
        details = [{"service": name, "result": r} for name, r in results.items()]
        return error_response(503, "not_ready", "A service is not ready.", details)

    app.include_router(_proxy_router(settings))
    return app
