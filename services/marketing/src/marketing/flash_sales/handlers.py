"""Order's answers about flash-sale tickets (through the inbox: each event once).

- ``order.flash_sale_ordered``: the ticket's order exists → ``ordered`` with its id;
- ``order.flash_sale_rejected``: no order can be made → ``rejected`` with the reason, and
  its units go back to the sale;
- ``order.paid`` of a ticket's order → ``paid_at`` (the reconciler commits the units at
  catalog);
- ``order.cancelled`` of a ticket's order (not paid in time, or cancelled by the member)
  → its units go back to the sale, exactly once: ``returned_at`` is set under the row lock
  in the inbox's transaction, and the Redis step is guarded by the ``returned`` set.
"""

import uuid

from redis.asyncio import Redis
from shared.events import Event
from shared.inbox import Handler
from shared.logging import get_logger
from shared.redis import create_redis
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.flash_sales import repository, service
from marketing.flash_sales.store import SaleKeys
from marketing.settings import MarketingSettings

log = get_logger(__name__)

_redis: "Redis | None" = None


def redis() -> "Redis":
    """One Redis client per consumer process for these handlers (they get only a session)."""
    global _redis
    if _redis is None:
        _redis = create_redis(MarketingSettings().redis_url)
    return _redis


async def ordered(session: AsyncSession, event: Event) -> None:
    p = event.payload
    t = await repository.lock_ticket(session, str(p["ticket"]))
    if t is None:
        log.error("flash_sale.order_for_unknown_ticket", ticket=p.get("ticket"))
        return
    order_id = uuid.UUID(str(p["order_id"]))
    if t.status == "ordered" and t.order_id == order_id:
        return
    if t.status == "rejected":
        log.error("flash_sale.order_for_rejected_ticket", ticket=t.ticket, order_id=str(order_id))
        return
    t.status, t.order_id = "ordered", order_id
    await session.flush()
    await redis().hset(SaleKeys.of(t.sale_id).tickets, t.ticket, service.ticket_row(t).encode())


async def rejected(session: AsyncSession, event: Event) -> None:
    p = event.payload
    t = await repository.lock_ticket(session, str(p["ticket"]))
    if t is None or t.status != "queued":
        return
    t.status, t.reason = "rejected", str(p.get("reason") or "rejected")[:200]
    if t.returned_at is None:
        t.returned_at = service.now_utc()
    await session.flush()
    await service.return_units(redis(), t, service.ticket_row(t))
    log.warning("flash_sale.ticket_rejected", ticket=t.ticket, reason=t.reason)


async def order_paid(session: AsyncSession, event: Event) -> None:
    order_id = event.payload.get("order_id")
    if not order_id:
        return
    t = await repository.ticket_of_order(session, uuid.UUID(str(order_id)))
    if t is None or t.paid_at is not None:
        return
    t.paid_at = service.now_utc()
    await session.flush()


async def order_cancelled(session: AsyncSession, event: Event) -> None:
    order_id = event.payload.get("order_id")
    if not order_id:
        return
    t = await repository.ticket_of_order(session, uuid.UUID(str(order_id)))
    if t is None or t.returned_at is not None or t.paid_at is not None:
        return
    t.returned_at = service.now_utc()
    await session.flush()
    if await service.return_units(redis(), t):
        log.info("flash_sale.unit_returned", ticket=t.ticket, order_id=str(order_id))


HANDLERS: dict[str, Handler] = {
    "order.flash_sale_ordered": ordered,
    "order.flash_sale_rejected": rejected,
    "order.paid": order_paid,
    "order.cancelled": order_cancelled,
}
