"""A service app with a slow endpoint, for tests/test_graceful_shutdown.py only.

Built with ``shared.app.create_service_app`` like every service, so it drains like them:
``uvicorn tests.apps.slow_app:create_app --factory`` with the ``ORDER_*`` environment.
"""

import asyncio

from fastapi import APIRouter, FastAPI, Request
from shared.app import create_service_app
from shared.settings import ServiceSettings


def slow_router() -> APIRouter:
    router = APIRouter(prefix="/slow")
    in_flight: list[int] = [0]

    @router.get("")
    async def slow(request: Request, after_drain_s: float) -> dict[str, bool]:
        """Answers only once the process is draining, ``after_drain_s`` later."""
        in_flight[0] += 1
        try:
            draining = request.app.state.draining
            for _ in range(1200):  # at most a minute: the test sends SIGTERM long before
                if draining.active:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(after_drain_s)
            return {"saw_draining": True}
        finally:
            in_flight[0] -= 1

    @router.get("/in-flight")
    async def count() -> dict[str, int]:
        return {"in_flight": in_flight[0]}

    return router


def create_app() -> FastAPI:
    settings = ServiceSettings(_env_prefix="ORDER_").model_copy(update={"service_name": "order"})
    return create_service_app(settings, title="slow test app", routers=[slow_router()])
