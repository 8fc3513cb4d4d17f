"""The catalog consumer process: ``python -m catalog.consumer``.

It runs two loops: the event consumer (order events settle reservations;
``catalog.product_changed`` is announced to every HTTP instance for cache invalidation) and
the reservation expiry sweeper (``catalog.stock.sweeper``).
"""

import asyncio

from redis.asyncio import Redis
from shared.db import create_engine, create_sessionmaker
from shared.inbox import EventConsumer, Handler
from shared.probes import probe_handlers
from shared.redis import create_redis
from shared.worker import run_worker

from catalog.details.handlers import cache_handlers
from catalog.settings import CatalogSettings
from catalog.stock.handlers import stock_handlers
from catalog.stock.sweeper import run_sweeper


def handlers(settings: CatalogSettings, redis: "Redis") -> dict[str, Handler]:
    return {
        **probe_handlers(["order", "member", "marketing", "payment"]),
        **stock_handlers(settings),
        **cache_handlers(settings, redis),
    }


def main(settings: CatalogSettings) -> None:
    async def consume(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url, pool_size=4)
        redis = create_redis(settings.redis_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            await asyncio.gather(
                EventConsumer(settings, sessionmaker, handlers(settings, redis)).run(stop),
                run_sweeper(settings, sessionmaker, stop),
            )
        finally:
            await redis.aclose()
            await engine.dispose()

    run_worker("consumer", settings, consume)


if __name__ == "__main__":
    main(CatalogSettings())
