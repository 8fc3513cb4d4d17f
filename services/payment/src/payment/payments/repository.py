"""Every query on ``payments``."""

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment.models import Payment, PaymentStatus


def out_trade_no_for(order_id: uuid.UUID) -> str:
    """One stable number per order (32 hex characters; WeChat allows 6–32 of [0-9A-Za-z_-*])."""
    return order_id.hex


async def insert_if_missing(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    member_id: uuid.UUID,
    amount_fen: int,
    description: str,
    status: str = PaymentStatus.PENDING,
    time_expire_at: datetime | None = None,
    order_cancelled_at: datetime | None = None,
) -> None:
    await session.execute(
        insert(Payment)
        .values(
            id=uuid.uuid4(),
            order_id=order_id,
            member_id=member_id,
            out_trade_no=out_trade_no_for(order_id),
            amount_fen=amount_fen,
            description=description,
            status=status,
            time_expire_at=time_expire_at,
            order_cancelled_at=order_cancelled_at,
            closed_at=order_cancelled_at,
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
    )


async def locked_by_order(session: AsyncSession, order_id: uuid.UUID) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.order_id == order_id).with_for_update()
    )


async def locked_by_out_trade_no(session: AsyncSession, out_trade_no: str) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.out_trade_no == out_trade_no).with_for_update()
    )


async def locked(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())


async def due_for_query(
    session: AsyncSession, prepaid_before: datetime, queried_before: datetime, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """Pending, prepaid, not cancelled payments that no notification settled in time."""
    found = await session.execute(
        select(Payment.id, Payment.out_trade_no)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.order_cancelled_at.is_(None),
            Payment.prepaid_at < prepaid_before,
            or_(Payment.last_queried_at.is_(None), Payment.last_queried_at < queried_before),
        )
        .order_by(Payment.prepaid_at)
        .limit(limit)
    )
    return [(i, n) for i, n in found]


async def cancelled_to_close(
    session: AsyncSession, limit: int
) -> list[tuple[uuid.UUID, str, bool]]:
    """Pending payments of cancelled orders: (id, out_trade_no, prepaid)."""
    found = await session.execute(
        select(Payment.id, Payment.out_trade_no, Payment.prepay_id.is_not(None))
        .where(Payment.status == PaymentStatus.PENDING, Payment.order_cancelled_at.is_not(None))
        .order_by(Payment.order_cancelled_at)
        .limit(limit)
    )
    return [(i, n, bool(prepaid)) for i, n, prepaid in found]


async def received_between(session: AsyncSession, start: datetime, end: datetime) -> list[Payment]:
    """Payments WeChat told us about (paid or flagged) with a success time in [start, end)."""
    found = await session.scalars(
        select(Payment).where(
            Payment.transaction_id.is_not(None), Payment.paid_at >= start, Payment.paid_at < end
        )
    )
    return list(found)


async def received_by_out_trade_no(session: AsyncSession, numbers: list[str]) -> dict[str, Payment]:
    if not numbers:
        return {}
    found = await session.scalars(
        select(Payment).where(
            Payment.out_trade_no.in_(numbers), Payment.transaction_id.is_not(None)
        )
    )
    return {p.out_trade_no: p for p in found}
