"""The order consumer process: ``python -m order.consumer``: payment events, and the
sweepers (unpaid timeout, auto-completion, abandoned creations)."""

import asyncio

from shared.consumer import run_consumer
from shared.db import create_sessionmaker
from shared.probes import probe_handlers
from sqlalchemy.ext.asyncio import AsyncEngine

from order import sweeper
from order.handlers import HANDLERS as ORDER_HANDLERS
from order.services import build_services
from order.settings import OrderSettings

HANDLERS = {**probe_handlers(["catalog", "member", "marketing", "payment"]), **ORDER_HANDLERS}


async def sweep(engine: AsyncEngine, stop: asyncio.Event) -> None:
    async with build_services(OrderSettings(), create_sessionmaker(engine)) as services:
        await sweeper.run(services, stop)


if __name__ == "__main__":
    run_consumer(OrderSettings(), HANDLERS, background=sweep)
