"""Every stock query. Counters only move through conditional UPDATEs (``available >= q``) on
locked rows, never by read-modify-write in Python; the CHECK constraints are the last guard."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Category, Product, Reservation, Sku, StockLedgerEntry


@dataclass(frozen=True)
class LedgerRow:
    sku_id: uuid.UUID
    kind: str
    delta_available: int = 0
    delta_reserved: int = 0
    delta_sold: int = 0
    reason: str = ""
    reference: str | None = None
    actor: str = "system"


async def add_ledger(session: AsyncSession, rows: list[LedgerRow]) -> None:
    if rows:
        await session.execute(insert(StockLedgerEntry), [r.__dict__ for r in rows])


# -- reservations ---------------------------------------------------------------------------


async def insert_reservation(
    session: AsyncSession, key: str, items: list[dict[str, Any]], expires_at: datetime
) -> bool:
    """True if this call created the reservation. A concurrent insert of the same key waits
    for the first transaction, then inserts nothing."""
    inserted = await session.scalar(
        pg_insert(Reservation)
        .values(
            id=uuid.uuid4(),
            reservation_key=key,
            status="reserved",
            items=items,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[Reservation.reservation_key])
        .returning(Reservation.id)
    )
    return inserted is not None


async def reservation(session: AsyncSession, key: str) -> Reservation | None:
    return await session.scalar(
        select(Reservation)
        .where(Reservation.reservation_key == key)
        .execution_options(populate_existing=True)
    )


async def settle(
    session: AsyncSession, key: str, status: str, *, reason: str | None, unexpired_only: bool
) -> list[dict[str, Any]] | None:
    """Move a ``reserved`` reservation to ``status``; its items, or None if it was not
    reserved (or had expired, with ``unexpired_only``). Exactly one caller wins."""
    where = [Reservation.reservation_key == key, Reservation.status == "reserved"]
    if unexpired_only:
        where.append(Reservation.expires_at > func.now())
    items: list[dict[str, Any]] | None = await session.scalar(
        update(Reservation)
        .where(*where)
        .values(status=status, settled_at=func.now(), release_reason=reason)
        .returning(Reservation.items)
    )
    return items


async def lock_due(session: AsyncSession, limit: int) -> list[str]:
    """Keys of expired reservations, locked; rows another sweeper holds are skipped."""
    rows = await session.scalars(
        select(Reservation.reservation_key)
        .where(Reservation.status == "reserved", Reservation.expires_at <= func.now())
        .order_by(Reservation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


# -- SKU counters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuState:
    sku_id: uuid.UUID
    product_id: uuid.UUID
    orderable: bool


async def sku_states(session: AsyncSession, sku_ids: list[uuid.UUID]) -> dict[uuid.UUID, SkuState]:
    rows = await session.execute(
        select(Sku.id, Sku.product_id, Sku.active, Product.status)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sku_ids))
    )
    return {
        r.id: SkuState(r.id, r.product_id, bool(r.active and r.status == "on_sale")) for r in rows
    }


async def take(session: AsyncSession, sku_id: uuid.UUID, quantity: int) -> int | None:
    """available -= q, reserved += q if enough is available; the new available, else None."""
    after: int | None = await session.scalar(
        update(Sku)
        .where(Sku.id == sku_id, Sku.available >= quantity)
        .values(available=Sku.available - quantity, reserved=Sku.reserved + quantity)
        .returning(Sku.available)
    )
    return after


async def put_back(session: AsyncSession, sku_id: uuid.UUID, quantity: int) -> None:
    await session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(available=Sku.available + quantity, reserved=Sku.reserved - quantity)
    )


async def mark_sold(session: AsyncSession, sku_id: uuid.UUID, quantity: int) -> None:
    await session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(reserved=Sku.reserved - quantity, sold=Sku.sold + quantity)
    )


async def add_sales(session: AsyncSession, product_id: uuid.UUID, quantity: int) -> None:
    await session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(sales_count=Product.sales_count + quantity)
    )


async def product_ids(
    session: AsyncSession, sku_ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    rows = await session.execute(select(Sku.id, Sku.product_id).where(Sku.id.in_(sku_ids)))
    return {r.id: r.product_id for r in rows}


async def available_of(session: AsyncSession, sku_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await session.execute(select(Sku.id, Sku.available).where(Sku.id.in_(sku_ids)))
    return {r.id: int(r.available) for r in rows}


async def lock_sku(session: AsyncSession, sku_id: uuid.UUID) -> Sku | None:
    return await session.scalar(
        select(Sku)
        .where(Sku.id == sku_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def sku_by_code(session: AsyncSession, supplier_id: str, code: str) -> Sku | None:
    return await session.scalar(
        select(Sku).where(Sku.supplier_id == supplier_id, Sku.sku_code == code)
    )


async def change_available(session: AsyncSession, sku_id: uuid.UUID, delta: int) -> int | None:
    after: int | None = await session.scalar(
        update(Sku)
        .where(Sku.id == sku_id, Sku.available + delta >= 0)
        .values(available=Sku.available + delta)
        .returning(Sku.available)
    )
    return after


async def adjustment(
    session: AsyncSession, sku_id: uuid.UUID, reference: str
) -> StockLedgerEntry | None:
    return await session.scalar(
        select(StockLedgerEntry).where(
            StockLedgerEntry.sku_id == sku_id,
            StockLedgerEntry.kind == "adjust",
            StockLedgerEntry.reference == reference,
        )
    )


async def ledger_page(
    session: AsyncSession, sku_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[StockLedgerEntry], int]:
    where = StockLedgerEntry.sku_id == sku_id
    total = await session.scalar(select(func.count()).select_from(StockLedgerEntry).where(where))
    rows = await session.scalars(
        select(StockLedgerEntry)
        .where(where)
        .order_by(StockLedgerEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


# -- snapshots for order --------------------------------------------------------------------


async def snapshots(session: AsyncSession, sku_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            Sku.id.label("sku_id"),
            Sku.product_id,
            Product.name.label("product_name"),
            Sku.specs,
            Sku.price_fen,
            Sku.market_price_fen,
            Sku.available,
            Sku.active,
            Product.status,
            Sku.weight_g,
            func.coalesce(Sku.image_url, Product.images[0].astext).label("image_url"),
            Product.category_id,
            Category.path.label("category_path"),
            Product.supplier_id,
        )
        .join(Product, Product.id == Sku.product_id)
        .join(Category, Category.id == Product.category_id)
        .where(Sku.id.in_(sku_ids))
    )
    return [dict(r._mapping) for r in rows]
