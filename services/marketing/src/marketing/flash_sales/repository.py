"""Every flash-sale query (SQLAlchemy Core and ORM rows; not on the purchase path)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.models import FlashSale, FlashSaleTicket


async def sale(
    session: AsyncSession, sale_id: uuid.UUID, *, lock: bool = False
) -> FlashSale | None:
    query = select(FlashSale).where(FlashSale.id == sale_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def visible_sales(
    session: AsyncSession, now: datetime, offset: int, limit: int
) -> tuple[Sequence[FlashSale], int]:
    where = (FlashSale.status == "scheduled", FlashSale.ends_at > now)
    total = await session.scalar(select(func.count()).select_from(FlashSale).where(*where))
    rows = await session.scalars(
        select(FlashSale).where(*where).order_by(FlashSale.starts_at, FlashSale.id)
        .offset(offset).limit(limit)
    )  # fmt: skip
    return rows.all(), int(total or 0)


async def all_sales(
    session: AsyncSession, offset: int, limit: int
) -> tuple[Sequence[FlashSale], int]:
    total = await session.scalar(select(func.count()).select_from(FlashSale))
    rows = await session.scalars(
        select(FlashSale)
        .order_by(FlashSale.starts_at.desc(), FlashSale.id)
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), int(total or 0)


async def due_for_loading(
    session: AsyncSession, horizon: datetime, now: datetime
) -> list[FlashSale]:
    rows = await session.scalars(
        select(FlashSale).where(
            FlashSale.status == "scheduled",
            FlashSale.loaded_at.is_(None),
            FlashSale.settled_at.is_(None),
            FlashSale.starts_at <= horizon,
            FlashSale.ends_at > now,
        )
    )
    return list(rows)


async def open_sales(session: AsyncSession) -> list[FlashSale]:
    """Loaded (or cancelled) and not settled: their Redis keys and catalog holds are live."""
    rows = await session.scalars(
        select(FlashSale).where(
            FlashSale.settled_at.is_(None),
            (FlashSale.loaded_at.is_not(None)) | (FlashSale.status == "cancelled"),
        )
    )
    return list(rows)


async def mark_loaded(session: AsyncSession, sale_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(FlashSale).where(FlashSale.id == sale_id).values(loaded_at=at, load_error=None)
    )


async def mark_load_failed(session: AsyncSession, sale_id: uuid.UUID, error: str) -> None:
    await session.execute(
        update(FlashSale).where(FlashSale.id == sale_id).values(load_error=error[:1000])
    )


async def mark_settled(session: AsyncSession, sale_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(FlashSale).where(FlashSale.id == sale_id).values(settled_at=at))


async def try_sale_lock(session: AsyncSession, sale_id: uuid.UUID) -> bool:
    """A transaction-scoped advisory lock: one reconciler per sale at a time."""
    key = int.from_bytes(sale_id.bytes[:8], "big", signed=True)
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))


async def tickets(session: AsyncSession, sale_id: uuid.UUID) -> list[FlashSaleTicket]:
    rows = await session.scalars(select(FlashSaleTicket).where(FlashSaleTicket.sale_id == sale_id))
    return list(rows)


async def ticket(session: AsyncSession, ticket_id: str) -> FlashSaleTicket | None:
    return await session.get(FlashSaleTicket, ticket_id)


async def ticket_of_order(
    session: AsyncSession, order_id: uuid.UUID, *, lock: bool = True
) -> FlashSaleTicket | None:
    query = select(FlashSaleTicket).where(FlashSaleTicket.order_id == order_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def lock_ticket(session: AsyncSession, ticket_id: str) -> FlashSaleTicket | None:
    return (
        await session.scalars(
            select(FlashSaleTicket).where(FlashSaleTicket.ticket == ticket_id).with_for_update()
        )
    ).one_or_none()


async def record_tickets(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert tickets not recorded yet; returns those inserted now."""
    if not rows:
        return set()
    inserted = await session.scalars(
        insert(FlashSaleTicket)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[FlashSaleTicket.ticket])
        .returning(FlashSaleTicket.ticket)
    )
    return set(inserted)


async def counts(
    session: AsyncSession, sale_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    if not sale_ids:
        return {}
    t = FlashSaleTicket
    rows = await session.execute(
        select(
            t.sale_id,
            func.count().filter(t.status == "queued"),
            func.count().filter(t.status == "ordered"),
            func.count().filter(t.status == "rejected"),
            func.count().filter(t.paid_at.is_not(None)),
            func.count().filter(t.returned_at.is_not(None)),
            func.coalesce(func.sum(t.quantity).filter(t.returned_at.is_(None)), 0),
        )
        .where(t.sale_id.in_(sale_ids))
        .group_by(t.sale_id)
    )
    keys = ("queued", "ordered", "rejected", "paid", "returned", "units_held")
    return {row[0]: dict(zip(keys, (int(v) for v in row[1:]), strict=True)) for row in rows}
