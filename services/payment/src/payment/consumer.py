"""The payment consumer process: ``python -m payment.consumer``: order events (cancellations,
refund requests) and the settler (closing, active queries, refunds, daily reconciliation)."""

import asyncio

from shared.consumer import run_consumer
from shared.db import create_sessionmaker
from shared.probes import probe_handlers
from sqlalchemy.ext.asyncio import AsyncEngine

from payment import settler
from payment.deps import build_services
from payment.handlers import HANDLERS as PAYMENT_HANDLERS
from payment.settings import PaymentSettings

HANDLERS = {**probe_handlers(["catalog", "order", "member", "marketing"]), **PAYMENT_HANDLERS}


async def settle(engine: AsyncEngine, stop: asyncio.Event) -> None:
    async with build_services(PaymentSettings(), create_sessionmaker(engine)) as services:
        await settler.run(services, stop)


if __name__ == "__main__":
    run_consumer(PaymentSettings(), HANDLERS, background=settle)
