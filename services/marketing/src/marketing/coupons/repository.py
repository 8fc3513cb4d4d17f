"""Every query on coupon templates, claims and coupons."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import Coupon, CouponClaim, CouponTemplate


async def template(
    session: AsyncSession, template_id: uuid.UUID, *, lock: bool = False
) -> CouponTemplate | None:
    query = select(CouponTemplate).where(CouponTemplate.id == template_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


def _claimable_now(now: datetime) -> Any:
    return (
        (CouponTemplate.status == "active")
        & CouponTemplate.claimable
        & or_(CouponTemplate.claim_starts_at.is_(None), CouponTemplate.claim_starts_at <= now)
        & or_(CouponTemplate.claim_ends_at.is_(None), CouponTemplate.claim_ends_at > now)
        & or_(CouponTemplate.validity == "relative", CouponTemplate.valid_until > now)
    )


async def claimable_templates(
    session: AsyncSession, now: datetime, offset: int, limit: int
) -> tuple[list[CouponTemplate], int]:
    where = _claimable_now(now)
    total = await session.scalar(select(func.count()).select_from(CouponTemplate).where(where))
    rows = await session.scalars(
        select(CouponTemplate)
        .where(where)
        .order_by(CouponTemplate.created_at.desc(), CouponTemplate.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def templates(
    session: AsyncSession, status: str | None, offset: int, limit: int
) -> tuple[list[CouponTemplate], int]:
    query = select(CouponTemplate)
    count = select(func.count()).select_from(CouponTemplate)
    if status is not None:
        query, count = (
            query.where(CouponTemplate.status == status),
            count.where(CouponTemplate.status == status),
        )
    total = await session.scalar(count)
    rows = await session.scalars(
        query.order_by(CouponTemplate.created_at.desc(), CouponTemplate.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def count_member_claim(
    session: AsyncSession, template_id: uuid.UUID, member_id: uuid.UUID, limit: int
) -> bool:
    """One more claim by this member, unless they reached ``limit``. The upsert locks the
    (template, member) row, so concurrent claims of one member serialise here."""
    statement = (
        insert(CouponClaim)
        .values(template_id=template_id, member_id=member_id, claimed=1)
        .on_conflict_do_update(
            index_elements=[CouponClaim.template_id, CouponClaim.member_id],
            set_={"claimed": CouponClaim.claimed + 1},
            where=CouponClaim.claimed < limit,
        )
        .returning(CouponClaim.claimed)
    )
    return (await session.scalar(statement)) is not None


async def claimed_counts(
    session: AsyncSession, member_id: uuid.UUID, template_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not template_ids:
        return {}
    rows = await session.execute(
        select(CouponClaim.template_id, CouponClaim.claimed).where(
            CouponClaim.member_id == member_id, CouponClaim.template_id.in_(template_ids)
        )
    )
    return {t: c for t, c in rows.tuples()}


async def count_issued(session: AsyncSession, template_id: uuid.UUID, n: int = 1) -> bool:
    """Take ``n`` from the template's quantity, unless that would exceed it (or it ended)."""
    result = await session.execute(
        update(CouponTemplate)
        .where(
            CouponTemplate.id == template_id,
            CouponTemplate.status != "ended",
            or_(
                CouponTemplate.total_quantity.is_(None),
                CouponTemplate.issued_count + n <= CouponTemplate.total_quantity,
            ),
        )
        .values(issued_count=CouponTemplate.issued_count + n)
        .returning(CouponTemplate.id)
    )
    return result.first() is not None


async def count_used(session: AsyncSession, template_id: uuid.UUID, delta: int) -> None:
    await session.execute(
        update(CouponTemplate)
        .where(CouponTemplate.id == template_id)
        .values(used_count=func.greatest(CouponTemplate.used_count + delta, 0))
    )


async def coupon(
    session: AsyncSession, coupon_id: uuid.UUID, *, lock: bool = False
) -> Coupon | None:
    query = select(Coupon).where(Coupon.id == coupon_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def held_by_order(session: AsyncSession, order_id: uuid.UUID) -> Coupon | None:
    """The coupon locked or used by an order (at most one), locked for update."""
    return await session.scalar(
        select(Coupon)
        .where(Coupon.order_id == order_id, Coupon.status.in_(("locked", "used")))
        .with_for_update()
    )


async def unconfirmed_locks(session: AsyncSession, cutoff: datetime, batch: int) -> list[Coupon]:
    return list(
        await session.scalars(
            select(Coupon)
            .where(
                Coupon.status == "locked",
                Coupon.lock_confirmed.is_(False),
                Coupon.locked_at < cutoff,
            )
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )


def _status_filter(status: str, now: datetime) -> Any:
    # An available coupon past its end shows as expired before the sweeper gets to it.
    if status == "available":
        return (Coupon.status == "available") & (Coupon.valid_until > now)
    if status == "expired":
        return (Coupon.status == "expired") | (
            (Coupon.status == "available") & (Coupon.valid_until <= now)
        )
    return Coupon.status == status


async def coupons_page(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: uuid.UUID | None,
    template_id: uuid.UUID | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Coupon, CouponTemplate]], int]:
    conditions: list[Any] = []
    if member_id is not None:
        conditions.append(Coupon.member_id == member_id)
    if template_id is not None:
        conditions.append(Coupon.template_id == template_id)
    if status is not None:
        conditions.append(_status_filter(status, now))
    total = await session.scalar(select(func.count()).select_from(Coupon).where(*conditions))
    rows = await session.execute(
        select(Coupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(*conditions)
        .order_by(Coupon.created_at.desc(), Coupon.id)
        .offset(offset)
        .limit(limit)
    )
    return [(c, t) for c, t in rows.tuples()], int(total or 0)


async def usable(
    session: AsyncSession, member_id: uuid.UUID, now: datetime
) -> Sequence[tuple[Coupon, CouponTemplate]]:
    """The member's coupons an order could use now."""
    rows = await session.execute(
        select(Coupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(
            Coupon.member_id == member_id,
            Coupon.status == "available",
            Coupon.valid_from <= now,
            Coupon.valid_until > now,
        )
        .order_by(Coupon.valid_until, Coupon.id)
        .limit(200)
    )
    return list(rows.tuples())


async def expire_due(session: AsyncSession, now: datetime, batch: int) -> list[uuid.UUID]:
    due = (
        select(Coupon.id)
        .where(Coupon.status == "available", Coupon.valid_until <= now)
        .order_by(Coupon.valid_until)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(Coupon)
        .where(Coupon.id.in_(due))
        .values(status="expired", updated_at=now)
        .returning(Coupon.id)
    )
    return [row[0] for row in result]
