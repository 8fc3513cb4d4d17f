"""Run a service's event consumer as its own process (``python -m <service>.consumer``).

``background`` runs alongside the consumer in the same process (a service's sweepers and
schedulers), with the same database engine and stop signal.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, create_sessionmaker
from shared.inbox import EventConsumer, Handler
from shared.settings import ServiceSettings
from shared.worker import run_worker

Background = Callable[[AsyncEngine, asyncio.Event], Awaitable[None]]


def run_consumer(
    settings: ServiceSettings,
    handlers: Mapping[str, Handler],
    background: Background | None = None,
) -> None:
    async def consume(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url, pool_size=4)
        try:
            consumer = EventConsumer(settings, create_sessionmaker(engine), handlers)
            tasks: list[Awaitable[None]] = [consumer.run(stop)]
            if background is not None:
                tasks.append(background(engine, stop))
            await asyncio.gather(*tasks)
        finally:
            await engine.dispose()

    run_worker("consumer", settings, consume)
