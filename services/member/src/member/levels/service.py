"""Levels by growth value; staff set thresholds and benefits. A member's level is the highest
whose ``min_growth`` their growth reaches; every change is ``member.level_changed``."""

import uuid

from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from member.levels import repository
from member.levels.errors import LevelConflict, LevelNotFound
from member.levels.schemas import LevelCreate, LevelUpdate
from member.models import Level, Member


def level_changed(
    session: AsyncSession,
    member_id: uuid.UUID,
    old: uuid.UUID | None,
    new: Level | None,
    growth: int,
) -> None:
    add_event(
        session,
        "member.level_changed",
        str(member_id),
        {
            "member_id": str(member_id),
            "from_level_id": str(old) if old else None,
            "to_level_id": str(new.id) if new else None,
            "to_level_name": new.name if new else None,
            "growth_value": growth,
        },
    )


async def apply_growth(session: AsyncSession, member: Member, growth: int) -> None:
    """Add growth to a locked member row and move them to the level it reaches."""
    member.growth_value = max(member.growth_value + growth, 0)
    level = await repository.for_growth(session, member.growth_value)
    new_id = level.id if level else None
    if new_id != member.level_id:
        old, member.level_id = member.level_id, new_id
        level_changed(session, member.id, old, level, member.growth_value)
    await session.flush()


async def _reevaluate(session: AsyncSession) -> None:
    await session.flush()
    levels = {level.id: level for level in await repository.all_levels(session)}
    for member_id, old, new, growth in await repository.reevaluate_members(session):
        level_changed(session, member_id, old, levels.get(new) if new else None, growth)


async def create(session: AsyncSession, body: LevelCreate) -> Level:
    if await repository.by_name_or_threshold(session, body.name, body.min_growth):
        raise LevelConflict("A level with this name or threshold exists.")
    level = Level(**body.model_dump())
    session.add(level)
    await _reevaluate(session)
    return level


async def update(session: AsyncSession, level_id: uuid.UUID, body: LevelUpdate) -> Level:
    level = await repository.get(session, level_id)
    if level is None:
        raise LevelNotFound("No such level.")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    name = changes.get("name", level.name)
    threshold = changes.get("min_growth", level.min_growth)
    if await repository.by_name_or_threshold(session, name, threshold, exclude=level.id):
        raise LevelConflict("A level with this name or threshold exists.")
    for key, value in changes.items():
        setattr(level, key, value)
    await _reevaluate(session)
    return level


async def delete(session: AsyncSession, level_id: uuid.UUID) -> None:
    level = await repository.get(session, level_id)
    if level is None:
        raise LevelNotFound("No such level.")
    await session.delete(level)
    await _reevaluate(session)
