"""Every query on members."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from member.models import Member


async def active(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> Member | None:
    query = select(Member).where(Member.id == member_id, Member.status == "active")
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def insert_if_absent(session: AsyncSession, openid: str, unionid: str | None) -> bool:
    """Create the member for ``openid`` unless one exists; True if this call created it."""
    created = await session.scalar(
        insert(Member)
        .values(id=uuid.uuid4(), openid=openid, unionid=unionid)
        .on_conflict_do_nothing(index_elements=[Member.openid])
        .returning(Member.id)
    )
    return created is not None


async def by_openid_for_update(session: AsyncSession, openid: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.openid == openid).with_for_update())
