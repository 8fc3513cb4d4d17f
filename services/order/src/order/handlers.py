"""Events order consumes (through the inbox: each once)."""

import uuid
from datetime import datetime

from shared.events import Event
from shared.logging import get_logger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order.aftersales import service as aftersales
from order.models import Order
from order.orders import activities, lifecycle
from order.states import Status

log = get_logger(__name__)


async def payment_succeeded(session: AsyncSession, event: Event) -> None:
    """Pay the order, once; a different amount flags it for review instead."""
    p = event.payload
    order_id = uuid.UUID(p["order_id"])
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        log.error("order.payment_for_unknown_order", order_id=str(order_id))
        return
    if order.status != Status.PENDING_PAYMENT:
        # Already paid (a redelivery under another event id) or cancelled: payment refunds
        # a payment that arrives after cancellation.
        log.warning("order.payment_not_applied", order_id=str(order_id), status=order.status)
        return
    amount = int(p["amount_fen"])
    if amount != order.total_fen:
        order.review_reason = f"paid {amount} fen for a total of {order.total_fen} fen"
        log.error(
            "order.payment_amount_mismatch",
            order_id=str(order_id),
            paid=amount,
            total=order.total_fen,
        )
        return
    await lifecycle.mark_paid(
        session, order, str(p.get("transaction_id", "")), datetime.fromisoformat(p["paid_at"])
    )


async def payment_refunded(session: AsyncSession, event: Event) -> None:
    p = event.payload
    await aftersales.refunded(session, uuid.UUID(p["refund_id"]), int(p["amount_fen"]))


HANDLERS = {
    "payment.succeeded": payment_succeeded,
    "payment.refunded": payment_refunded,
    **activities.HANDLERS,  # marketing.group_succeeded, marketing.group_failed
}
