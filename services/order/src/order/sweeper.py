"""Time-driven work, run in the consumer process (every ``sweep_interval_s``):

- unpaid orders past their deadline are cancelled (not those flagged for review);
- shipped orders are completed ``auto_complete_days`` after shipping;
- orders stuck ``creating`` (their request died) are compensated;
- expired idempotency keys are deleted.

Each order is taken with ``FOR UPDATE SKIP LOCKED`` and changed under the state machine, so
two sweepers (or a sweeper and a member) never change the same order twice; state lives in
PostgreSQL, so a restart loses nothing.
"""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from shared.logging import get_logger
from sqlalchemy import select

from order import idempotency
from order.deps import Services
from order.models import Order
from order.orders import creation, lifecycle
from order.states import Status

log = get_logger(__name__)
BATCH = 100


async def cancel_unpaid(services: Services) -> int:
    async with services.sessionmaker() as session, session.begin():
        orders = list(
            await session.scalars(
                select(Order)
                .where(
                    Order.status == Status.PENDING_PAYMENT,
                    Order.pay_deadline_at < datetime.now(UTC),
                    Order.review_reason.is_(None),
                )
                .order_by(Order.pay_deadline_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for order in orders:
            await lifecycle.cancel(session, order, "system", "not paid in time")
    if orders:
        log.info("order.unpaid_cancelled", count=len(orders))
    return len(orders)


async def complete_shipped(services: Services) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=services.settings.auto_complete_days)
    async with services.sessionmaker() as session, session.begin():
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.status == Status.SHIPPED, Order.shipped_at < cutoff)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for order in orders:
            await lifecycle.complete(session, order, "system", "completed automatically")
    return len(orders)


async def recover_creating(services: Services) -> int:
    cutoff = datetime.now(UTC) - timedelta(seconds=services.settings.creating_timeout_s)
    async with services.sessionmaker() as session:
        stuck = list(
            await session.execute(
                select(Order.id, Order.member_id)
                .where(Order.status == Status.CREATING, Order.created_at < cutoff)
                .limit(BATCH)
            )
        )
    done = 0
    for order_id, member_id in stuck:
        if await creation.compensate(services, order_id, member_id, reason="creation abandoned"):
            done += 1
    return done


async def sweep_once(services: Services) -> None:
    await cancel_unpaid(services)
    await complete_shipped(services)
    await recover_creating(services)
    await idempotency.purge_expired(services)


async def run(services: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await sweep_once(services)
        except Exception as exc:  # the database away: try again next round
            log.warning("order.sweep_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.sweep_interval_s)
