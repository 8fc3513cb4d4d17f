"""Orders made from flash-sale tickets, and their own consumer process:
``python -m order.flash_sales``.

Marketing's Redis step accepts a purchase and records it (``marketing.flash_sale_purchased``);
this consumer group (``order-flash-sale``; run several processes: they share the topic's
partitions) turns each into an order:

- the unit is already held at catalog by the sale (a reservation per unit, marketing's),
  so no stock is reserved here and none can run out: the order is written straight into
  ``pending_payment`` at the sale price, with the sale's payment window as its deadline;
- ``activity_kind = 'flash_sale'``, ``activity_ref`` = the ticket, unique together: a
  redelivered or re-published intent finds its order and only confirms it again;
- ``order.created`` (with the activity) and ``order.flash_sale_ordered`` go out in the same
  transaction; an intent that cannot become an order (the SKU is gone) publishes
  ``order.flash_sale_rejected`` with the reason, and marketing gives the unit back.

Throughput: the consumer hands each run of intents fetched from one partition (up to 200)
to ``IntentHandler.many``, one transaction for all of them (inbox rows, one bulk INSERT per
table, the outbox rows), and commits the partition's offset once. If that transaction fails,
the kit applies the intents one by one (``IntentHandler.one``, the same code) so a bad one
is parked alone.

The unpaid sweeper cancels an order past its deadline as any other (``order.cancelled``);
marketing then returns the unit to the sale, once.
"""

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from shared.context import request_context
from shared.db import SessionDep, create_engine, create_sessionmaker
from shared.events import Event
from shared.http import UpstreamError
from shared.inbox import BatchHandler, EventConsumer, Handler
from shared.logging import get_logger
from shared.outbox import add_event
from shared.worker import run_worker
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from order.clients import ShippingAddress, SkuSnapshot
from order.deps import Services
from order.models import Order, OrderItem, Transition
from order.services import build_services
from order.settings import OrderSettings
from order.states import Status

log = get_logger(__name__)

KIND = "flash_sale"
SNAPSHOT_TTL_S = 60.0
ADDRESS_CONCURRENCY = 8
PURCHASED = "marketing.flash_sale_purchased"


class SkuCache:
    """SKU snapshots for a sale's orders (one SKU per sale): fetched once a minute."""

    def __init__(self) -> None:
        self._items: dict[uuid.UUID, tuple[float, SkuSnapshot | None]] = {}

    async def get(self, services: Services, sku_id: uuid.UUID) -> SkuSnapshot | None:
        cached = self._items.get(sku_id)
        if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_TTL_S:
            return cached[1]
        found = (await services.catalog.skus([sku_id])).get(sku_id)
        self._items[sku_id] = (time.monotonic(), found)
        return found


async def _address(services: Services, member_id: uuid.UUID, raw: Any) -> ShippingAddress | None:
    if not raw:
        return None
    try:
        return await services.member.address(member_id, uuid.UUID(str(raw)))
    except UpstreamError as exc:
        if exc.status_code in (404, 422):
            return None  # the member chooses an address before paying
        raise


@dataclass(frozen=True)
class Intent:
    """A ``marketing.flash_sale_purchased`` payload; a malformed one raises (and is parked)."""

    event: Event
    ticket: str
    sale_id: str
    member_id: uuid.UUID
    sku_id: uuid.UUID
    quantity: int
    price_fen: int
    address_id: Any
    payment_window_s: int

    @classmethod
    def of(cls, event: Event) -> "Intent":
        p = event.payload
        return cls(
            event=event,
            ticket=str(p["ticket"]),
            sale_id=str(p["sale_id"]),
            member_id=uuid.UUID(str(p["member_id"])),
            sku_id=uuid.UUID(str(p["sku_id"])),
            quantity=int(p["quantity"]),
            price_fen=int(p["price_fen"]),
            address_id=p.get("address_id"),
            payment_window_s=int(p.get("payment_window_s") or 900),
        )

    @property
    def valid(self) -> bool:
        return self.quantity >= 1 and self.price_fen >= 0


@dataclass(frozen=True)
class Made:
    """An order made from a ticket: what confirming it needs."""

    order_id: uuid.UUID
    member_id: uuid.UUID
    pay_deadline_at: datetime


def _ordered(session: AsyncSession, intent: Intent, made: Made) -> None:
    add_event(
        session,
        "order.flash_sale_ordered",
        str(made.order_id),
        {
            "ticket": intent.ticket,
            "sale_id": intent.sale_id,
            "order_id": str(made.order_id),
            "member_id": str(made.member_id),
            "pay_deadline_at": made.pay_deadline_at.isoformat(),
        },
    )


def _rejected(session: AsyncSession, intent: Intent, reason: str) -> None:
    add_event(
        session,
        "order.flash_sale_rejected",
        intent.ticket,
        {"ticket": intent.ticket, "sale_id": intent.sale_id, "reason": reason},
    )


class Rows:
    """The rows of the orders made in one transaction, inserted together."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []

    def add(
        self, intent: Intent, sku: SkuSnapshot, address: ShippingAddress | None, now: datetime
    ) -> tuple[Made, dict[str, Any]]:
        """Stage the order of ``intent``; returns it and its line as events carry it."""
        order_id, price, quantity = uuid.uuid4(), intent.price_fen, intent.quantity
        amount = price * quantity
        made = Made(order_id, intent.member_id, now + timedelta(seconds=intent.payment_window_s))
        self.orders.append(
            {
                "id": order_id,
                "member_id": intent.member_id,
                "status": Status.PENDING_PAYMENT,
                "goods_fen": amount,
                "discount_fen": 0,
                "points_used": 0,
                "points_fen": 0,
                "freight_fen": 0,
                "total_fen": amount,
                "refunded_fen": 0,
                "breakdown": {
                    "lines": [
                        {
                            "sku_id": str(sku.sku_id),
                            "product_id": str(sku.product_id),
                            "product_name": sku.product_name,
                            "specs": sku.specs,
                            "image_url": sku.image_url,
                            "unit_price_fen": price,
                            "quantity": quantity,
                            "amount_fen": amount,
                            "paid_fen": amount,
                        }
                    ],
                    "goods_fen": amount,
                    "discounts": [],
                    "points_used": 0,
                    "points_fen": 0,
                    "freight_fen": 0,
                    "freight_rule": "flash sale: free shipping",
                    "total_fen": amount,
                    "notes": [f"flash sale {intent.sale_id}, ticket {intent.ticket}"],
                },
                "fulfilment": "delivery",
                "address": address.model_dump(mode="json") if address else None,
                "activity_kind": KIND,
                "activity_ref": intent.ticket,
                "pay_deadline_at": made.pay_deadline_at,
                "created_at": now,
                "updated_at": now,
            }
        )
        self.items.append(
            {
                "order_id": order_id,
                "sku_id": sku.sku_id,
                "product_id": sku.product_id,
                "product_name": sku.product_name,
                "specs": sku.specs,
                "image_url": sku.image_url,
                "supplier_id": sku.supplier_id,
                "quantity": quantity,
                "unit_price_fen": price,
                "paid_fen": amount,
                "refunded_quantity": 0,
            }
        )
        self.transitions.append(
            {
                "order_id": order_id,
                "from_status": None,
                "to_status": Status.PENDING_PAYMENT,
                "actor": f"member:{intent.member_id}",
                "reason": f"flash sale ticket {intent.ticket}",
            }
        )
        line = {"sku_id": str(sku.sku_id), "quantity": quantity, "price_fen": price}
        return made, {**line, "paid_fen": amount}  # as lifecycle.item_payload

    async def insert(self, session: AsyncSession) -> None:
        if self.orders:  # bulk INSERTs: one statement per table for the whole batch
            await session.execute(insert(Order), self.orders)
            await session.execute(insert(OrderItem), self.items)
            await session.execute(insert(Transition), self.transitions)


class IntentHandler:
    """Orders from intents: a fetched batch of them in one transaction (the consumer's batch
    handler), or one (its ordinary handler, used when a batch failed): the same code."""

    def __init__(self, services: Services, skus: SkuCache) -> None:
        self._services = services
        self._skus = skus

    async def one(self, session: AsyncSession, event: Event) -> None:
        await self.many(session, [event])

    async def many(self, session: AsyncSession, events: Sequence[Event]) -> None:
        intents = [Intent.of(e) for e in events]
        found = await session.execute(
            select(Order.activity_ref, Order.id, Order.member_id, Order.pay_deadline_at).where(
                Order.activity_kind == KIND,
                Order.activity_ref.in_({i.ticket for i in intents}),
            )
        )
        made = {str(r[0]): Made(r[1], r[2], r[3]) for r in found}
        new = [i for i in intents if i.ticket not in made and i.valid]
        skus = {
            sku_id: await self._skus.get(self._services, sku_id)
            for sku_id in {i.sku_id for i in new}
        }
        addresses = await self._addresses([i for i in new if i.address_id and skus[i.sku_id]])
        rows, now = Rows(), datetime.now(UTC)
        for intent in intents:
            with request_context(intent.event.request_id):
                if intent.ticket in made:  # published again (or twice here): confirm again
                    _ordered(session, intent, made[intent.ticket])
                    continue
                if not intent.valid:
                    _rejected(session, intent, "invalid_intent")
                    continue
                sku = skus[intent.sku_id]
                if sku is None:
                    _rejected(session, intent, "sku_unavailable")
                    continue
                order, line = rows.add(intent, sku, addresses.get(intent.ticket), now)
                made[intent.ticket] = order
                add_event(
                    session,
                    "order.created",
                    str(order.order_id),
                    {
                        "order_id": str(order.order_id),
                        "member_id": str(intent.member_id),
                        "total_fen": line["paid_fen"],
                        "items": [line],
                        "coupon_id": None,
                        "points_used": 0,
                        "pay_deadline_at": order.pay_deadline_at.isoformat(),
                        "activity_kind": KIND,
                        "activity_ref": intent.ticket,
                    },
                )
                _ordered(session, intent, order)
        await rows.insert(session)

    async def _addresses(self, intents: list[Intent]) -> dict[str, ShippingAddress | None]:
        """Shipping addresses chosen at purchase, fetched a few at a time."""
        gate = asyncio.Semaphore(ADDRESS_CONCURRENCY)

        async def fetch(intent: Intent) -> ShippingAddress | None:
            async with gate:
                return await _address(self._services, intent.member_id, intent.address_id)

        found = await asyncio.gather(*(fetch(i) for i in intents))
        return {i.ticket: a for i, a in zip(intents, found, strict=True)}


def handlers(services: Services, skus: SkuCache) -> dict[str, Handler]:
    return {PURCHASED: IntentHandler(services, skus).one}


def batch_handlers(services: Services, skus: SkuCache) -> dict[str, BatchHandler]:
    return {PURCHASED: IntentHandler(services, skus).many}


# --- internal API: the orders of a sale, for marketing's reconciliation ---

internal = APIRouter(prefix="/internal/v1/orders/flash-sale", tags=["internal"])


class SaleOrderOut(BaseModel):
    ticket: str
    order_id: uuid.UUID
    status: str


class SaleOrdersOut(BaseModel):
    items: list[SaleOrderOut]


@internal.get("/{sale_id}", response_model=SaleOrdersOut)
async def orders_of_sale(sale_id: uuid.UUID, session: SessionDep) -> SaleOrdersOut:
    """Every order made from a ticket of this sale (tickets start with the sale id)."""
    rows = await session.execute(
        select(Order.activity_ref, Order.id, Order.status).where(
            Order.activity_kind == KIND, Order.activity_ref.like(f"{sale_id.hex}-%")
        )
    )
    return SaleOrdersOut(
        items=[SaleOrderOut(ticket=str(r[0]), order_id=r[1], status=r[2]) for r in rows]
    )


def main() -> None:
    settings = OrderSettings()

    async def consume(stop: asyncio.Event) -> None:
        engine = create_engine(settings.database_url, pool_size=4)
        sessionmaker = create_sessionmaker(engine)
        try:
            async with build_services(settings, sessionmaker) as services:
                skus = SkuCache()
                consumer = EventConsumer(
                    settings,
                    sessionmaker,
                    handlers(services, skus),
                    group_id=settings.flash_sale_group_id,
                    batch_handlers=batch_handlers(services, skus),
                )
                await consumer.run(stop)
        finally:
            await engine.dispose()

    run_worker("flash-sale-consumer", settings, consume)


if __name__ == "__main__":
    main()
