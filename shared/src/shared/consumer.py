"""Run a service's event consumer as its own process (``python -m <service>.consumer``)."""

import asyncio
from collections.abc import Mapping

from shared.db import create_engine, create_sessionmaker
from shared.inbox import EventConsumer, Handler
from shared.settings import ServiceSettings
from shared.worker import run_worker


def run_consumer(settings: ServiceSettings, handlers: Mapping[str, Handler]) -> None:
    async def consume(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url, pool_size=4)
        try:
            await EventConsumer(settings, create_sessionmaker(engine), handlers).run(stop)
        finally:
            await engine.dispose()

    run_worker("consumer", settings, consume)
