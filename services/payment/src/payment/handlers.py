"""Events payment consumes (through the inbox: each once). Handlers only record what must
happen; the settler (``settler.py``, same process) talks to WeChat, so a WeChat outage never
holds a partition and a crash loses nothing."""

import uuid

from shared.events import Event
from sqlalchemy.ext.asyncio import AsyncSession

from payment.payments import service as payments
from payment.refunds import service as refunds


async def order_cancelled(session: AsyncSession, event: Event) -> None:
    """Close the WeChat order; money that arrives anyway is refunded."""
    p = event.payload
    await payments.order_cancelled(session, uuid.UUID(p["order_id"]), uuid.UUID(p["member_id"]))


async def order_refund_requested(session: AsyncSession, event: Event) -> None:
    p = event.payload
    await refunds.request_after_sale(
        session,
        uuid.UUID(p["order_id"]),
        uuid.UUID(p["refund_id"]),
        int(p["amount_fen"]),
        p.get("reason"),
    )


HANDLERS = {
    "order.cancelled": order_cancelled,
    "order.refund_requested": order_refund_requested,
}
