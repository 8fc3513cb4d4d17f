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

The unpaid sweeper cancels an order past its deadline as any other (``order.cancelled``);
marketing then returns the unit to the sale, once.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from shared.db import SessionDep, create_engine, create_sessionmaker
from shared.events import Event
from shared.http import UpstreamError
from shared.inbox import EventConsumer, Handler
from shared.logging import get_logger
from shared.outbox import add_event
from shared.worker import run_worker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order.clients import ShippingAddress, SkuSnapshot
from order.deps import Services
from order.models import Order, OrderItem, Transition
from order.orders import lifecycle
from order.services import build_services
from order.settings import OrderSettings
from order.states import Status

log = get_logger(__name__)

KIND = "flash_sale"
GROUP_ID = "order-flash-sale"
SNAPSHOT_TTL_S = 60.0


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


def _ordered(session: AsyncSession, ticket: str, sale_id: str, order: Order) -> None:
    add_event(
        session,
        "order.flash_sale_ordered",
        str(order.id),
        {
            "ticket": ticket,
            "sale_id": sale_id,
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "pay_deadline_at": order.pay_deadline_at.isoformat(),
        },
    )


def _rejected(session: AsyncSession, ticket: str, sale_id: str, reason: str) -> None:
    add_event(
        session,
        "order.flash_sale_rejected",
        ticket,
        {"ticket": ticket, "sale_id": sale_id, "reason": reason},
    )


def handlers(services: Services, skus: SkuCache) -> dict[str, Handler]:
    async def purchased(session: AsyncSession, event: Event) -> None:
        p = event.payload
        ticket, sale_id = str(p["ticket"]), str(p["sale_id"])
        existing = await session.scalar(
            select(Order).where(Order.activity_kind == KIND, Order.activity_ref == ticket)
        )
        if existing is not None:  # published again: confirm once more
            _ordered(session, ticket, sale_id, existing)
            return
        member_id = uuid.UUID(str(p["member_id"]))
        sku_id = uuid.UUID(str(p["sku_id"]))
        quantity, price = int(p["quantity"]), int(p["price_fen"])
        if quantity < 1 or price < 0:
            _rejected(session, ticket, sale_id, "invalid_intent")
            return
        sku = await skus.get(services, sku_id)
        if sku is None:
            _rejected(session, ticket, sale_id, "sku_unavailable")
            return
        address = await _address(services, member_id, p.get("address_id"))
        now = datetime.now(UTC)
        amount = price * quantity
        order = Order(
            id=uuid.uuid4(),
            member_id=member_id,
            status=Status.PENDING_PAYMENT,
            goods_fen=amount,
            discount_fen=0,
            points_used=0,
            points_fen=0,
            freight_fen=0,
            total_fen=amount,
            refunded_fen=0,
            breakdown={
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
                "notes": [f"flash sale {sale_id}, ticket {ticket}"],
            },
            fulfilment="delivery",
            address=address.model_dump(mode="json") if address else None,
            activity_kind=KIND,
            activity_ref=ticket,
            pay_deadline_at=now + timedelta(seconds=int(p.get("payment_window_s") or 900)),
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        await session.flush()
        item = OrderItem(
            order_id=order.id,
            sku_id=sku.sku_id,
            product_id=sku.product_id,
            product_name=sku.product_name,
            specs=sku.specs,
            image_url=sku.image_url,
            supplier_id=sku.supplier_id,
            quantity=quantity,
            unit_price_fen=price,
            paid_fen=amount,
            refunded_quantity=0,
        )
        session.add(item)
        session.add(
            Transition(
                order_id=order.id,
                from_status=None,
                to_status=Status.PENDING_PAYMENT,
                actor=f"member:{member_id}",
                reason=f"flash sale ticket {ticket}",
            )
        )
        await session.flush()
        add_event(
            session,
            "order.created",
            str(order.id),
            {
                "order_id": str(order.id),
                "member_id": str(member_id),
                "total_fen": amount,
                "items": lifecycle.item_payload([item]),
                "coupon_id": None,
                "points_used": 0,
                "pay_deadline_at": order.pay_deadline_at.isoformat(),
                "activity_kind": KIND,
                "activity_ref": ticket,
            },
        )
        _ordered(session, ticket, sale_id, order)

    return {"marketing.flash_sale_purchased": purchased}


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
                consumer = EventConsumer(
                    settings, sessionmaker, handlers(services, SkuCache()), group_id=GROUP_ID
                )
                await consumer.run(stop)
        finally:
            await engine.dispose()

    run_worker("flash-sale-consumer", settings, consume)


if __name__ == "__main__":
    main()
