"""Status changes: each checked against the state machine, recorded and published.

Every change locks the order row (``FOR UPDATE``) first, so concurrent changes serialise and
the outbox ids of one order follow its history.
"""

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.outbox import add_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order import states
from order.models import Order, OrderItem, Transition
from order.orders import activities
from order.orders.errors import OrderNotFound
from order.orders.schemas import OrderItemOut
from order.states import Status


async def locked(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or order.status not in states.PUBLIC:
        raise OrderNotFound(f"No order {order_id}.")
    return order


async def items_of(session: AsyncSession, order_id: uuid.UUID) -> list[OrderItem]:
    return list(
        await session.scalars(
            select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
        )
    )


def move(session: AsyncSession, order: Order, target: Status, actor: str, reason: str) -> None:
    """Apply one transition to a locked order (409 if illegal) and record it."""
    states.check(order.status, target)
    activities.check_fulfilment(order, target)  # a group-buy waits for its group
    session.add(
        Transition(
            order_id=order.id,
            from_status=order.status,
            to_status=target,
            actor=actor,
            reason=reason,
        )
    )
    order.status = target
    order.updated_at = datetime.now(UTC)


def item_payload(items: list[OrderItem]) -> list[dict[str, Any]]:
    return [
        {
            "sku_id": str(i.sku_id),
            "quantity": i.quantity,
            "price_fen": i.unit_price_fen,
            "paid_fen": i.paid_fen,
        }
        for i in items
    ]


async def cancel(session: AsyncSession, order: Order, actor: str, reason: str) -> None:
    move(session, order, Status.CANCELLED, actor, reason)
    order.cancelled_at = datetime.now(UTC)
    add_event(
        session,
        "order.cancelled",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "reason": reason,
            "coupon_id": str(order.coupon_id) if order.coupon_id else None,
            "points_used": order.points_used,
        },
    )


async def mark_paid(
    session: AsyncSession, order: Order, transaction_id: str, paid_at: datetime
) -> None:
    move(session, order, Status.PAID, "payment", f"paid, transaction {transaction_id}")
    order.paid_at = paid_at
    order.transaction_id = transaction_id
    if order.fulfilment == "pickup":
        order.pickup_code = f"{secrets.randbelow(10**8):08d}"
    add_event(
        session,
        "order.paid",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "total_fen": order.total_fen,
            "paid_at": paid_at.isoformat(),
            "transaction_id": transaction_id,
        },
    )


async def ship(
    session: AsyncSession, order: Order, carrier: str, tracking_no: str, actor: str
) -> None:
    move(session, order, Status.SHIPPED, actor, f"shipped with {carrier} {tracking_no}")
    order.carrier, order.tracking_no = carrier, tracking_no
    order.shipped_at = datetime.now(UTC)
    add_event(
        session,
        "order.shipped",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "carrier": carrier,
            "tracking_no": tracking_no,
        },
    )


async def complete(session: AsyncSession, order: Order, actor: str, reason: str) -> None:
    move(session, order, Status.COMPLETED, actor, reason)
    order.completed_at = datetime.now(UTC)
    items = await items_of(session, order.id)
    add_event(
        session,
        "order.completed",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "total_fen": order.total_fen,
            "paid_fen": order.total_fen - order.refunded_fen,
            "items": item_payload(items),
        },
    )


def item_out(item: OrderItem) -> "OrderItemOut":
    return OrderItemOut.model_validate(item)
