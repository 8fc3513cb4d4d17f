"""Demo freight rules for ``make run``: 8 yuan, free from 99 yuan; remote provinces pay more.

Run by ``python -m order.seed``; rules that exist are left as they are."""

import asyncio

from shared.db import create_engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from order.models import FreightRule
from order.settings import OrderSettings

RULES = [
    ("*", 800, 9900),
    ("新疆维吾尔自治区", 2000, 29900),
    ("西藏自治区", 2000, 29900),
]


async def seed() -> None:
    engine = create_engine(OrderSettings().database_url, pool_size=1)
    try:
        async with AsyncSession(engine) as session, session.begin():
            for region, fee, free_over in RULES:
                await session.execute(
                    insert(FreightRule)
                    .values(region=region, fee_fen=fee, free_over_fen=free_over)
                    .on_conflict_do_nothing()
                )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(seed())
