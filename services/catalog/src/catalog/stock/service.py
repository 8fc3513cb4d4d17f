"""Stock rules. Every counter change writes ledger rows in the same transaction.

Lock order, everywhere: the reservation row, then products, then SKUs by ascending id, so
concurrent reservations, commits, releases and edits never deadlock.

- ``reserve``: all-or-nothing over the items, once per reservation key (a unique row).
- ``commit``: reserved → sold, once; ``release``: reserved → available, once. Both are a
  conditional UPDATE of the reservation's status, so exactly one caller moves the stock
  (HTTP, event handler or sweeper).
- ``adjust``: staff, supplier or refund; available never below zero.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Reservation
from catalog.products.errors import SkuNotFound
from catalog.stock import repository
from catalog.stock.errors import (
    IdempotencyKeyReused,
    InsufficientStock,
    ReservationCommitted,
    ReservationKeyReused,
    ReservationNotActive,
    ReservationNotFound,
    SkuUnavailable,
)
from catalog.stock.repository import LedgerRow
from catalog.stock.schemas import ReservationItem, ReservationRead


def normalize_items(items: list[ReservationItem]) -> list[dict[str, Any]]:
    """One entry per SKU (quantities summed), sorted by SKU id: the lock order, and a stable
    form to compare a repeated request with."""
    totals: dict[uuid.UUID, int] = {}
    for item in items:
        totals[item.sku_id] = totals.get(item.sku_id, 0) + item.quantity
    return [{"sku_id": str(k), "quantity": totals[k]} for k in sorted(totals, key=str)]


def read(row: Reservation) -> ReservationRead:
    return ReservationRead.model_validate(
        {
            "reservation_key": row.reservation_key,
            "status": row.status,
            "expires_at": row.expires_at,
            "items": row.items,
        }
    )


def _stock_low(session: AsyncSession, sku_id: uuid.UUID, before: int, after: int, low: int) -> None:
    if after < low <= before:
        add_event(
            session, "catalog.stock_low", str(sku_id), {"sku_id": str(sku_id), "available": after}
        )


async def reserve(
    session: AsyncSession,
    key: str,
    items: list[ReservationItem],
    ttl_s: int,
    *,
    low_threshold: int,
) -> tuple[ReservationRead, bool]:
    """The reservation and whether this call made it (False: the same request again)."""
    wanted = normalize_items(items)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)
    if not await repository.insert_reservation(session, key, wanted, expires_at):
        existing = await repository.reservation(session, key)
        assert existing is not None
        if existing.items != wanted:
            raise ReservationKeyReused("This reservation key was used for other items.")
        return read(existing), False
    ids = [uuid.UUID(i["sku_id"]) for i in wanted]
    states = await repository.sku_states(session, ids)
    unavailable = [i for i in ids if i not in states or not states[i].orderable]
    if unavailable:
        raise SkuUnavailable(
            "Some SKUs are unknown or not on sale.",
            details=[{"sku_id": str(i)} for i in unavailable],
        )
    short: list[dict[str, Any]] = []
    ledger: list[LedgerRow] = []
    for item in wanted:
        sku_id, quantity = uuid.UUID(item["sku_id"]), int(item["quantity"])
        after = await repository.take(session, sku_id, quantity)
        if after is None:
            short.append(item)
            continue
        ledger.append(
            LedgerRow(sku_id, "reserve", -quantity, quantity, reason="reserved", reference=key)
        )
        _stock_low(session, sku_id, after + quantity, after, low_threshold)
    if short:
        available = await repository.available_of(session, [uuid.UUID(i["sku_id"]) for i in short])
        raise InsufficientStock(
            "Not enough stock.",
            details=[
                {
                    "sku_id": i["sku_id"],
                    "requested": i["quantity"],
                    "available": available.get(uuid.UUID(i["sku_id"]), 0),
                }
                for i in short
            ],
        )
    await repository.add_ledger(session, ledger)
    return ReservationRead.model_validate(
        {"reservation_key": key, "status": "reserved", "expires_at": expires_at, "items": wanted}
    ), True


async def commit(session: AsyncSession, key: str, *, allow_expired: bool = False) -> None:
    """Reserved → sold. Again → nothing. Released, or expired (unless ``allow_expired``:
    the stock is still held, as for a payment that arrived late) → ReservationNotActive."""
    items = await repository.settle(
        session, key, "committed", reason=None, unexpired_only=not allow_expired
    )
    if items is None:
        existing = await repository.reservation(session, key)
        if existing is None:
            raise ReservationNotFound("No reservation has this key.")
        if existing.status == "committed":
            return
        raise ReservationNotActive(f"The reservation is {existing.status} or has expired.")
    quantities = {uuid.UUID(i["sku_id"]): int(i["quantity"]) for i in items}
    products = await repository.product_ids(session, list(quantities))
    sales: dict[uuid.UUID, int] = {}
    for sku_id, quantity in quantities.items():
        sales[products[sku_id]] = sales.get(products[sku_id], 0) + quantity
    for product_id in sorted(sales, key=str):
        await repository.add_sales(session, product_id, sales[product_id])
    for sku_id in sorted(quantities, key=str):
        await repository.mark_sold(session, sku_id, quantities[sku_id])
    await repository.add_ledger(
        session,
        [
            LedgerRow(sku_id, "commit", 0, -q, q, reason="paid", reference=key)
            for sku_id, q in sorted(quantities.items(), key=lambda kv: str(kv[0]))
        ],
    )


async def release(session: AsyncSession, key: str, *, reason: str) -> None:
    """Reserved → available again. Again, or an unknown key → nothing (nothing is held).
    Committed → ReservationCommitted."""
    items = await repository.settle(session, key, "released", reason=reason, unexpired_only=False)
    if items is None:
        existing = await repository.reservation(session, key)
        if existing is not None and existing.status == "committed":
            raise ReservationCommitted("The reservation was committed (paid).")
        return
    ledger = []
    for item in items:  # stored sorted by SKU id
        sku_id, quantity = uuid.UUID(item["sku_id"]), int(item["quantity"])
        await repository.put_back(session, sku_id, quantity)
        ledger.append(
            LedgerRow(sku_id, "release", quantity, -quantity, reason=reason, reference=key)
        )
    await repository.add_ledger(session, ledger)


async def sweep(session: AsyncSession, batch: int) -> int:
    """Release up to ``batch`` expired reservations; returns how many. Safe to run in several
    processes at once: rows are locked with SKIP LOCKED and released by a conditional UPDATE."""
    keys = await repository.lock_due(session, batch)
    for key in keys:
        await release(session, key, reason="expired")
    return len(keys)


@dataclass(frozen=True)
class Adjusted:
    sku_id: uuid.UUID
    available: int
    ledger_id: int | None


async def adjust(
    session: AsyncSession,
    sku_id: uuid.UUID,
    delta: int,
    *,
    reason: str,
    actor: str,
    reference: str | None,
    low_threshold: int,
) -> Adjusted:
    """available += delta (never below zero), once per ``reference`` if one is given."""
    sku = await repository.lock_sku(session, sku_id)
    if sku is None:
        raise SkuNotFound("No such SKU.")
    if reference is not None:
        done = await repository.adjustment(session, sku_id, reference)
        if done is not None:
            if done.delta_available != delta:
                raise IdempotencyKeyReused("This key was used for another adjustment.")
            return Adjusted(sku_id, sku.available, done.id)
    if delta == 0:
        return Adjusted(sku_id, sku.available, None)
    before = sku.available
    after = await repository.change_available(session, sku_id, delta)
    if after is None:
        raise InsufficientStock(
            "Stock cannot go below zero.",
            details=[{"sku_id": str(sku_id), "requested": -delta, "available": before}],
        )
    await repository.add_ledger(
        session,
        [LedgerRow(sku_id, "adjust", delta, reason=reason, reference=reference, actor=actor)],
    )
    _stock_low(session, sku_id, before, after, low_threshold)
    return Adjusted(sku_id, after, None)


async def set_available(
    session: AsyncSession,
    sku_id: uuid.UUID,
    available: int,
    *,
    reason: str,
    actor: str,
    low_threshold: int,
) -> Adjusted:
    """Make available equal ``available`` (one adjustment of the difference)."""
    sku = await repository.lock_sku(session, sku_id)
    if sku is None:
        raise SkuNotFound("No such SKU.")
    return await adjust(
        session,
        sku_id,
        available - sku.available,
        reason=reason,
        actor=actor,
        reference=None,
        low_threshold=low_threshold,
    )
