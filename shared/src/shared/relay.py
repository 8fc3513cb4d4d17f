"""Outbox relay process of one service: ``python -m shared.relay catalog``."""

import argparse
import asyncio

from shared.db import create_engine
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings
from shared.worker import run_worker


def main() -> None:
    parser = argparse.ArgumentParser(description="Publish a service's outbox to Kafka")
    parser.add_argument("service", help="service name; settings come from <SERVICE>_* variables")
    args = parser.parse_args()
    service: str = args.service
    settings = ServiceSettings(_env_prefix=f"{service.upper()}_")
    settings = settings.model_copy(update={"service_name": service})

    async def relay(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url, pool_size=2)
        try:
            await OutboxRelay(settings, engine).run(stop)
        finally:
            await engine.dispose()

    run_worker("relay", settings, relay)


if __name__ == "__main__":
    main()
