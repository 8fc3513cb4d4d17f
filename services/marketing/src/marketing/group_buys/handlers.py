"""Order events for group-buy slots and bargains (through the inbox: each once)."""

import uuid

from shared.events import Event
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.bargains import service as bargains
from marketing.group_buys import service as group_buys


async def order_paid(session: AsyncSession, event: Event) -> None:
    order_id = uuid.UUID(event.payload["order_id"])
    await group_buys.order_paid(session, order_id)
    await bargains.order_paid(session, order_id)


async def order_cancelled(session: AsyncSession, event: Event) -> None:
    order_id = uuid.UUID(event.payload["order_id"])
    await group_buys.order_cancelled(session, order_id)
    await bargains.order_cancelled(session, order_id)


async def order_refunded(session: AsyncSession, event: Event) -> None:
    await group_buys.order_refunded(session, uuid.UUID(event.payload["order_id"]))


HANDLERS = {
    "order.paid": order_paid,
    "order.cancelled": order_cancelled,
    "order.refunded": order_refunded,
}
