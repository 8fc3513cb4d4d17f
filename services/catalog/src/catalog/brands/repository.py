"""Every query on brands."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Brand


async def by_name(session: AsyncSession, name: str) -> Brand | None:
    return await session.scalar(select(Brand).where(Brand.name == name))


async def lock(session: AsyncSession, brand_id: uuid.UUID) -> Brand | None:
    return await session.scalar(select(Brand).where(Brand.id == brand_id).with_for_update())


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[Brand], int]:
    total = await session.scalar(select(func.count()).select_from(Brand))
    rows = await session.scalars(select(Brand).order_by(Brand.name).offset(offset).limit(limit))
    return list(rows), int(total or 0)
