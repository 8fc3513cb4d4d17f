"""Orders priced by a marketing activity (group-buy, bargain), and the cart facts marketing
reads for abandoned-cart offers.

- Checkout with ``activity: {kind, ref}``: exactly one item, quantity 1, no coupon
  (``coupon_not_applicable``) and no promotions; marketing answers the unit price
  (``price_for``, used by preview and creation). Creation then binds the slot or bargain
  to the order (``claim``: marketing refuses a second order for it, and the order row's
  unique ``(activity_kind, activity_ref)`` backs that); a failed creation gives it back
  (``release``).
- A group-buy order is ``awaiting_group`` until ``marketing.group_succeeded``: it cannot
  ship or be picked up before (409 ``group_not_complete``).
- ``marketing.group_failed``: each listed order that is unpaid is cancelled; each that is
  paid is refunded in full through the after-sales path (an approved refund-only request
  by ``system``: ``order.refund_requested`` → payment refunds through WeChat Pay →
  ``payment.refunded`` → ``refunded``).
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from shared.db import SessionDep
from shared.errors import Conflict, Unprocessable
from shared.events import Event
from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from order import pricing
from order.clients import MarketingClient, SkuSnapshot
from order.deps import Services
from order.models import AfterSale, CartLine, Order
from order.orders import lifecycle
from order.orders.errors import CouponNotApplicable
from order.orders.schemas import CheckoutIn
from order.states import Status

log = get_logger(__name__)


class ActivityNotApplicable(Unprocessable):
    code = "activity_not_applicable"


class GroupNotComplete(Conflict):
    code = "group_not_complete"


# -- checkout ----------------------------------------------------------------------------------


def _check_shape(body: CheckoutIn) -> None:
    if body.coupon_id is not None:
        raise CouponNotApplicable("A group-buy or bargain price takes no coupon.")
    if len(body.items) != 1 or body.items[0].quantity != 1:
        raise ActivityNotApplicable("A group-buy or bargain order is one unit of one SKU.")


async def price_for(
    services: Services, member_id: uuid.UUID, body: CheckoutIn
) -> MarketingClient.ActivityPrice | None:
    """The activity's unit price for this checkout (None without an activity)."""
    if body.activity is None:
        return None
    _check_shape(body)
    return await services.marketing.activity_price(
        body.activity.kind, body.activity.ref, member_id, body.items[0].sku_id, 1
    )


def apply(
    price: MarketingClient.ActivityPrice | None, skus: dict[uuid.UUID, SkuSnapshot]
) -> dict[uuid.UUID, SkuSnapshot]:
    """The SKUs as priced for this checkout: the activity's unit price replaces catalog's."""
    if price is None or price.sku_id not in skus:
        return skus
    return {
        **skus,
        price.sku_id: skus[price.sku_id].model_copy(update={"price_fen": price.unit_price_fen}),
    }


async def claim(
    services: Services, order_id: uuid.UUID, member_id: uuid.UUID, body: CheckoutIn
) -> None:
    """Bind the activity to the order being created and stamp the order row with it."""
    if body.activity is None:
        return
    _check_shape(body)
    bound = await services.marketing.activity_price(
        body.activity.kind, body.activity.ref, member_id, body.items[0].sku_id, 1, order_id
    )
    async with services.sessionmaker() as session, session.begin():
        taken = await session.scalar(
            select(Order.id).where(
                Order.activity_kind == body.activity.kind,
                Order.activity_ref == bound.ticket,
                Order.id != order_id,
            )
        )
        if taken is not None:
            raise ActivityNotApplicable("This activity already has an order.")
        await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == Status.CREATING)
            .values(
                activity_kind=body.activity.kind,
                activity_ref=bound.ticket,
                awaiting_group=body.activity.kind == "group_buy",
            )
        )


async def release(services: Services, order_id: uuid.UUID) -> None:
    """Compensation: give the activity back and free the order's reference."""
    async with services.sessionmaker() as session:
        kind = await session.scalar(select(Order.activity_kind).where(Order.id == order_id))
    if kind is None:
        return
    await services.marketing.release_activity(order_id)
    async with services.sessionmaker() as session, session.begin():
        await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == Status.CREATING)
            .values(activity_kind=None, activity_ref=None, awaiting_group=False)
        )


def check_fulfilment(order: Order, target: Status) -> None:
    """A group-buy order ships (or completes from paid) only once its group succeeded."""
    if order.awaiting_group and target in (Status.SHIPPED, Status.COMPLETED):
        raise GroupNotComplete("This group-buy order waits for its group to fill up.")


# -- marketing events ---------------------------------------------------------------------------


async def _locked(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    return await session.scalar(select(Order).where(Order.id == order_id).with_for_update())


async def group_succeeded(session: AsyncSession, event: Event) -> None:
    for entry in event.payload["orders"]:
        order = await _locked(session, uuid.UUID(entry["order_id"]))
        if order is not None and order.awaiting_group:
            order.awaiting_group = False
            order.updated_at = datetime.now(UTC)


async def group_failed(session: AsyncSession, event: Event) -> None:
    reason = f"group-buy failed: {event.payload.get('reason', '')}"[:200]
    for entry in event.payload["orders"]:
        order = await _locked(session, uuid.UUID(entry["order_id"]))
        if order is None or order.activity_kind != "group_buy":
            continue
        if order.status == Status.PENDING_PAYMENT:
            await lifecycle.cancel(session, order, "system", reason)
        elif order.status == Status.PAID and order.awaiting_group:
            await refund_all(session, order, reason)
        else:
            log.info("order.group_failed_skipped", order_id=str(order.id), status=order.status)
        order.awaiting_group = False


async def refund_all(session: AsyncSession, order: Order, reason: str) -> AfterSale:
    """A full refund decided by the system: an approved refund-only after-sale (restocked:
    nothing shipped), so payment refunds through WeChat and ``payment.refunded`` settles it
    as any refund."""
    items = await lifecycle.items_of(session, order.id)
    sale = AfterSale(
        id=uuid.uuid4(),
        order_id=order.id,
        member_id=order.member_id,
        kind="refund_only",
        items=[
            {"sku_id": str(i.sku_id), "quantity": i.quantity - i.refunded_quantity, "restock": True}
            for i in items
            if i.quantity > i.refunded_quantity
        ],
        amount_fen=order.total_fen - order.refunded_fen,
        reason=reason,
        status="refunding",
        previous_order_status=order.status,
        decided_by="system",
        decision_note=reason,
    )
    lifecycle.move(session, order, Status.REFUNDING, "system", reason)
    session.add(sale)
    await session.flush()
    add_event(
        session,
        "order.refund_requested",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "refund_id": str(sale.id),
            "amount_fen": sale.amount_fen,
            "reason": reason,
        },
    )
    return sale


def no_promotions(
    lines: list[pricing.Line],
) -> tuple[pricing.Promotions, MarketingClient.Quote]:
    """An activity price is final: no promotions, member-level price or coupon on top."""
    return (
        pricing.Promotions(paid_fen=[line.amount_fen for line in lines], discounts=[]),
        MarketingClient.Quote(lines=[], discounts=[], coupon=None, suggested_coupon=None),
    )


HANDLERS = {
    "marketing.group_succeeded": group_succeeded,
    "marketing.group_failed": group_failed,
}


# -- stale carts (marketing's abandoned-cart offers) ----------------------------------------

internal = APIRouter(prefix="/internal/v1/carts", tags=["carts (internal)"])


class StaleCartOut(BaseModel):
    member_id: uuid.UUID
    lines: int
    goods_fen: int
    updated_at: datetime


class StaleCartsOut(BaseModel):
    items: list[StaleCartOut]


@internal.get("/stale")
async def stale_carts(
    session: SessionDep,
    idle_s: Annotated[int, Query(ge=60)],
    updated_after: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StaleCartsOut:
    """Members whose newest cart change is at least ``idle_s`` old, oldest first (page on
    with ``updated_after`` = the last ``updated_at``)."""
    newest = func.max(func.greatest(CartLine.added_at, CartLine.updated_at))
    query: Any = (
        select(
            CartLine.member_id,
            func.count(),
            func.sum(CartLine.quantity * CartLine.price_fen_when_added),
            newest,
        )
        .group_by(CartLine.member_id)
        .having(newest < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, idle_s))
    )
    if updated_after is not None:
        query = query.having(newest > updated_after)
    rows = await session.execute(query.order_by(newest, CartLine.member_id).limit(limit))
    return StaleCartsOut(
        items=[
            StaleCartOut(member_id=r[0], lines=r[1], goods_fen=int(r[2] or 0), updated_at=r[3])
            for r in rows
        ]
    )
