"""Every query on promotions."""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import Promotion


async def get(
    session: AsyncSession, promotion_id: uuid.UUID, *, lock: bool = False
) -> Promotion | None:
    query = select(Promotion).where(Promotion.id == promotion_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def running(session: AsyncSession, now: datetime) -> list[Promotion]:
    """Promotions in force now, oldest first (the engine's tie-break order)."""
    return list(
        await session.scalars(
            select(Promotion)
            .where(
                Promotion.status == "active", Promotion.starts_at <= now, Promotion.ends_at > now
            )
            .order_by(Promotion.created_at, Promotion.id)
        )
    )


async def page(
    session: AsyncSession, kind: str | None, offset: int, limit: int
) -> tuple[list[Promotion], int]:
    query = select(Promotion)
    count = select(func.count()).select_from(Promotion)
    if kind is not None:
        query, count = query.where(Promotion.kind == kind), count.where(Promotion.kind == kind)
    total = await session.scalar(count)
    rows = await session.scalars(
        query.order_by(Promotion.created_at.desc(), Promotion.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)
