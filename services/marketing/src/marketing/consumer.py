"""The marketing consumer process: ``python -m marketing.consumer``: every feature's event
handlers (several features may follow one event type: they run in the order listed, in one
transaction) and its background loops (run side by side)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from shared.consumer import run_consumer
from shared.events import Event
from shared.inbox import Handler
from shared.probes import probe_handlers
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from marketing.coupons import handlers as coupon_handlers
from marketing.coupons import sweeper as coupon_sweeper
from marketing.flash_sales import handlers as flash_sale_handlers
from marketing.flash_sales import worker as flash_sale_worker
from marketing.group_buys import handlers as activity_handlers
from marketing.group_buys import sweeper as activity_sweeper
from marketing.referrals import handlers as referral_handlers
from marketing.settings import MarketingSettings

FEATURE_HANDLERS: list[Mapping[str, Handler]] = [
    probe_handlers(["catalog", "order", "member", "payment"]),
    coupon_handlers.HANDLERS,
    # --- group-buy, bargain, referral ---
    activity_handlers.HANDLERS,
    referral_handlers.HANDLERS,
    # --- flash sales ---
    flash_sale_handlers.HANDLERS,
]
BACKGROUNDS: list[Callable[[AsyncEngine, asyncio.Event], Awaitable[None]]] = [
    coupon_sweeper.run,
    activity_sweeper.run,  # group-buy, bargain, abandoned carts
    flash_sale_worker.run,  # flash sales: load, forward, rebuild, reconcile, settle
]


def combine(maps: list[Mapping[str, Handler]]) -> dict[str, Handler]:
    by_type: dict[str, list[Handler]] = {}
    for handlers in maps:
        for event_type, handler in handlers.items():
            by_type.setdefault(event_type, []).append(handler)

    def chain(chained: list[Handler]) -> Handler:
        if len(chained) == 1:
            return chained[0]

        async def run_all(session: AsyncSession, event: Event) -> None:
            for handler in chained:
                await handler(session, event)

        return run_all

    return {event_type: chain(chained) for event_type, chained in by_type.items()}


HANDLERS = combine(FEATURE_HANDLERS)


async def background(engine: AsyncEngine, stop: asyncio.Event) -> None:
    await asyncio.gather(*(loop(engine, stop) for loop in BACKGROUNDS))


if __name__ == "__main__":
    run_consumer(MarketingSettings(), HANDLERS, background=background)
