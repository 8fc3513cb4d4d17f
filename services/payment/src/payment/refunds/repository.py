"""Every query on ``refunds``."""

import uuid
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment.models import Refund, RefundStatus


def out_refund_no_for(refund_id: uuid.UUID) -> str:
    """Derived from the order's refund id: the same number on every retry."""
    return f"R{refund_id.hex}"


async def insert_if_missing(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    order_id: uuid.UUID,
    refund_id: uuid.UUID,
    kind: str,
    amount_fen: int,
    reason: str | None,
) -> bool:
    """True when this call recorded the refund (a redelivery finds it there)."""
    inserted = await session.scalar(
        insert(Refund)
        .values(
            id=uuid.uuid4(),
            payment_id=payment_id,
            order_id=order_id,
            refund_id=refund_id,
            out_refund_no=out_refund_no_for(refund_id),
            kind=kind,
            amount_fen=amount_fen,
            reason=reason,
            status=RefundStatus.REQUESTED,
        )
        .on_conflict_do_nothing(index_elements=["refund_id"])
        .returning(Refund.id)
    )
    return inserted is not None


async def of_kind_for_payment(session: AsyncSession, payment_id: uuid.UUID, kind: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Refund)
        .where(Refund.payment_id == payment_id, Refund.kind == kind)
    )
    return int(count or 0)


async def locked(session: AsyncSession, refund_pk: uuid.UUID) -> Refund | None:
    return await session.scalar(select(Refund).where(Refund.id == refund_pk).with_for_update())


async def locked_by_out_refund_no(session: AsyncSession, out_refund_no: str) -> Refund | None:
    return await session.scalar(
        select(Refund).where(Refund.out_refund_no == out_refund_no).with_for_update()
    )


async def to_submit(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Refund.id)
        .where(Refund.status == RefundStatus.REQUESTED)
        .order_by(Refund.created_at)
        .limit(limit)
    )
    return list(found)


async def to_query(
    session: AsyncSession, submitted_before: datetime, queried_before: datetime, limit: int
) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Refund.id)
        .where(
            Refund.status == RefundStatus.PROCESSING,
            Refund.submitted_at < submitted_before,
            or_(Refund.last_queried_at.is_(None), Refund.last_queried_at < queried_before),
        )
        .order_by(Refund.submitted_at)
        .limit(limit)
    )
    return list(found)
