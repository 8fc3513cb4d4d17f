"""Every query on addresses."""

import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from member.models import Address


async def count_for(session: AsyncSession, member_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Address).where(Address.member_id == member_id)
    )
    return int(total or 0)


async def page_for(
    session: AsyncSession, member_id: uuid.UUID, offset: int, limit: int
) -> list[Address]:
    return list(
        await session.scalars(
            select(Address)
            .where(Address.member_id == member_id)
            .order_by(Address.is_default.desc(), Address.created_at.desc(), Address.id)
            .offset(offset)
            .limit(limit)
        )
    )


async def all_for(session: AsyncSession, member_id: uuid.UUID) -> list[Address]:
    return await page_for(session, member_id, 0, 1000)


async def owned(
    session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID
) -> Address | None:
    return await session.scalar(
        select(Address).where(Address.id == address_id, Address.member_id == member_id)
    )


async def clear_default(session: AsyncSession, member_id: uuid.UUID) -> None:
    await session.execute(
        update(Address)
        .where(Address.member_id == member_id, Address.is_default.is_(True))
        .values(is_default=False)
    )


async def newest_other(
    session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID
) -> Address | None:
    return await session.scalar(
        select(Address)
        .where(Address.member_id == member_id, Address.id != address_id)
        .order_by(Address.created_at.desc(), Address.id)
        .limit(1)
    )


async def delete_all_for(session: AsyncSession, member_id: uuid.UUID) -> None:
    await session.execute(delete(Address).where(Address.member_id == member_id))
