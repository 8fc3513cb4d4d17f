"""Build a service's FastAPI app: lifespan resources, middleware, errors, health, metrics.

Engines and clients are made in the lifespan, never at import; ``app.state`` holds them.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from shared.db import create_engine, create_sessionmaker
from shared.errors import install_error_handlers
from shared.health import Check, Draining, drain_on_sigterm, health_router
from shared.kafka import KafkaProbe
from shared.logging import configure_logging
from shared.metrics import OUTBOX_BACKLOG
from shared.middleware import RequestContextMiddleware
from shared.outbox import outbox_backlog
from shared.redis import create_redis
from shared.settings import ServiceSettings

CLOSE_TIMEOUT_S = 3.0
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _checks(request: Request) -> Mapping[str, Check]:
    state = request.app.state

    async def postgres() -> None:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        await state.redis.ping()

    return {"postgres": postgres, "redis": redis, "kafka": state.kafka_probe.check}


async def _refresh_outbox_gauge(request: Request) -> None:
    async with request.app.state.sessionmaker() as session:
        OUTBOX_BACKLOG.labels(request.app.state.settings.service_name).set(
            await outbox_backlog(session)
        )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    extra_lifespan: Lifespan | None = None,
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    drain_s = settings.shutdown_drain_s
    draining = Draining()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size
        )
        app.state.sessionmaker = create_sessionmaker(app.state.engine)
        app.state.redis = create_redis(settings.redis_url)
        app.state.kafka_probe = KafkaProbe(settings)
        try:
            with drain_on_sigterm(draining, drain_s):
                if extra_lifespan is None:
                    yield
                else:
                    async with extra_lifespan(app):
                        yield
        finally:
            # Servers that are already gone must not hold the process: bounded closes.
            for close in (
                app.state.kafka_probe.close,
                app.state.redis.aclose,
                app.state.engine.dispose,
            ):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(close(), timeout=CLOSE_TIMEOUT_S)

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.draining = draining
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health_router(_checks, _refresh_outbox_gauge, draining))
    for router in routers:
        app.include_router(router)
    return app
