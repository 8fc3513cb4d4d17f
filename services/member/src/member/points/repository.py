"""Every query on the points ledger and holds."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from member.models import Member, PointsEntry, PointsHold


async def lock_member(session: AsyncSession, member_id: uuid.UUID) -> Member | None:
    return await session.scalar(
        select(Member).where(Member.id == member_id, Member.status == "active").with_for_update()
    )


async def entry(
    session: AsyncSession, member_id: uuid.UUID, kind: str, reference: str
) -> PointsEntry | None:
    return await session.scalar(
        select(PointsEntry).where(
            PointsEntry.member_id == member_id,
            PointsEntry.kind == kind,
            PointsEntry.reference == reference,
        )
    )


async def reversed_total(session: AsyncSession, member_id: uuid.UUID, source_reference: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(-PointsEntry.delta), 0)).where(
            PointsEntry.member_id == member_id,
            PointsEntry.kind == "reverse",
            PointsEntry.source_reference == source_reference,
        )
    )
    return int(total or 0)


async def hold(session: AsyncSession, member_id: uuid.UUID, reference: str) -> PointsHold | None:
    return await session.scalar(
        select(PointsHold).where(
            PointsHold.member_id == member_id, PointsHold.reference == reference
        )
    )


async def ledger_page(
    session: AsyncSession, member_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[PointsEntry], int]:
    where = PointsEntry.member_id == member_id
    total = await session.scalar(select(func.count()).select_from(PointsEntry).where(where))
    rows = await session.scalars(
        select(PointsEntry).where(where).order_by(PointsEntry.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def all_entries(session: AsyncSession, member_id: uuid.UUID) -> list[PointsEntry]:
    return list(
        await session.scalars(
            select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id)
        )
    )


async def all_holds(session: AsyncSession, member_id: uuid.UUID) -> list[PointsHold]:
    return list(
        await session.scalars(
            select(PointsHold)
            .where(PointsHold.member_id == member_id)
            .order_by(PointsHold.created_at)
        )
    )
