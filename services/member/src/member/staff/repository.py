"""Every query on staff accounts."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from member.models import Staff


async def by_username(session: AsyncSession, username: str) -> Staff | None:
    return await session.scalar(select(Staff).where(func.lower(Staff.username) == username.lower()))


async def get(
    session: AsyncSession, staff_id: uuid.UUID, *, for_update: bool = False
) -> Staff | None:
    query = select(Staff).where(Staff.id == staff_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[Staff], int]:
    total = await session.scalar(select(func.count()).select_from(Staff))
    rows = await session.scalars(
        select(Staff).order_by(Staff.created_at, Staff.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def active_admins_for_update(session: AsyncSession) -> list[Staff]:
    return list(
        await session.scalars(
            select(Staff)
            .where(Staff.active.is_(True), Staff.roles.contains(["admin"]))
            .with_for_update()
        )
    )


async def insert_if_absent(
    session: AsyncSession, username: str, password_hash: str, roles: list[str]
) -> bool:
    created = await session.scalar(
        insert(Staff)
        .values(id=uuid.uuid4(), username=username, password_hash=password_hash, roles=roles)
        .on_conflict_do_nothing(index_elements=[Staff.username])
        .returning(Staff.id)
    )
    return created is not None
