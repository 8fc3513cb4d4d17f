"""``python -m member.seed`` (run by ``make run``): the first admin and the default levels.

Idempotent: existing staff and levels are left as they are.
"""

import asyncio

from shared.db import create_engine, create_sessionmaker
from sqlalchemy import select

from member.levels.schemas import LevelCreate
from member.levels.service import create as create_level
from member.models import Level
from member.settings import MemberSettings
from member.staff.service import bootstrap_admin

DEFAULT_LEVELS = [
    LevelCreate(name="普通会员", min_growth=0, discount_rate_bp=10000, free_shipping=False),
    LevelCreate(name="银卡会员", min_growth=500, discount_rate_bp=9800, free_shipping=False),
    LevelCreate(name="金卡会员", min_growth=2000, discount_rate_bp=9500, free_shipping=True),
    LevelCreate(name="钻石会员", min_growth=10000, discount_rate_bp=9000, free_shipping=True),
]


async def seed(settings: MemberSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await bootstrap_admin(session, settings.admin_username, settings.admin_password)
            if await session.scalar(select(Level).limit(1)) is None:
                for level in DEFAULT_LEVELS:
                    await create_level(session, level)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(seed(MemberSettings()))
