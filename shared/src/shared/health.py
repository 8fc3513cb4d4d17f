"""``/healthz`` (the process lives), ``/readyz`` (its dependencies answer), ``/metrics``."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.errors import error_response

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_S = 2.0


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
        except Exception as exc:
            return f"failed: {exc!r}"[:300]
        return "ok"

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def health_router(
    checks: Callable[[Request], Mapping[str, Check]],
    before_metrics: Callable[[Request], Awaitable[None]] | None = None,
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: PostgreSQL, Redis and Kafka answer")
    async def readyz(request: Request) -> JSONResponse:
        results = await run_checks(checks(request))
        if all(r == "ok" for r in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        details = [{"check": name, "result": r} for name, r in results.items()]
        return error_response(503, "not_ready", "A dependency is unavailable.", details)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if before_metrics is not None:
            # A gauge that cannot refresh keeps its last value.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(before_metrics(request), timeout=CHECK_TIMEOUT_S)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
