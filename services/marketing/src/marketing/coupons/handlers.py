"""Order events marketing's coupons follow (through the inbox: each once)."""

import uuid

from shared.events import Event
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.coupons import service


async def order_created(session: AsyncSession, event: Event) -> None:
    """Confirms the coupon lock the order took."""
    p = event.payload
    if p.get("coupon_id"):
        await service.confirm(
            session, uuid.UUID(p["coupon_id"]), uuid.UUID(p["order_id"]), uuid.UUID(p["member_id"])
        )


async def order_paid(session: AsyncSession, event: Event) -> None:
    """The order's locked coupon is used (``marketing.coupon_used``)."""
    await service.use(session, uuid.UUID(event.payload["order_id"]))


async def order_cancelled(session: AsyncSession, event: Event) -> None:
    """The order's locked coupon comes back (expired if past its end)."""
    await service.release(session, uuid.UUID(event.payload["order_id"]), "order_cancelled")


async def order_refunded(session: AsyncSession, event: Event) -> None:
    """A full refund gives the used coupon back; a partial refund does not."""
    p = event.payload
    await service.refunded(session, uuid.UUID(p["order_id"]), full=bool(p.get("full", False)))


HANDLERS = {
    "order.created": order_created,
    "order.paid": order_paid,
    "order.cancelled": order_cancelled,
    "order.refunded": order_refunded,
}
