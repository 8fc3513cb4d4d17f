"""Every query on levels, and the set-based re-evaluation of members' levels."""

import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from member.models import Level


async def all_levels(session: AsyncSession) -> list[Level]:
    return list(await session.scalars(select(Level).order_by(Level.min_growth)))


async def get(session: AsyncSession, level_id: uuid.UUID) -> Level | None:
    return await session.get(Level, level_id)


async def by_name_or_threshold(
    session: AsyncSession, name: str, min_growth: int, exclude: uuid.UUID | None = None
) -> Level | None:
    query = select(Level).where((Level.name == name) | (Level.min_growth == min_growth))
    if exclude is not None:
        query = query.where(Level.id != exclude)
    return await session.scalar(query.limit(1))


async def for_growth(session: AsyncSession, growth: int) -> Level | None:
    return await session.scalar(
        select(Level).where(Level.min_growth <= growth).order_by(Level.min_growth.desc()).limit(1)
    )


_REEVALUATE = text(
    """
    WITH target AS (
        SELECT m.id, m.level_id AS old_level, m.growth_value,
               (SELECT l.id FROM levels l WHERE l.min_growth <= m.growth_value
                ORDER BY l.min_growth DESC LIMIT 1) AS new_level
        FROM members m WHERE m.status = 'active'
    )
    UPDATE members SET level_id = target.new_level, updated_at = now()
    FROM target
    WHERE members.id = target.id AND target.old_level IS DISTINCT FROM target.new_level
    RETURNING members.id, target.old_level, target.new_level, target.growth_value
    """
)


async def reevaluate_members(
    session: AsyncSession,
) -> list[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None, int]]:
    rows = await session.execute(_REEVALUATE)
    return [(r[0], r[1], r[2], r[3]) for r in rows]
