"""The coupon expiry sweeper, run in the consumer process: every
``coupon_sweep_interval_s``, available coupons past ``valid_until`` become ``expired``
(in batches, ``FOR UPDATE SKIP LOCKED``, so replicas share the work), and locks no
``order.created`` confirmed within ``coupon_unconfirmed_lock_s`` are given back."""

import asyncio
import contextlib

from shared.db import create_sessionmaker
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncEngine

from marketing.coupons import service
from marketing.settings import MarketingSettings

log = get_logger(__name__)


async def run(engine: AsyncEngine, stop: asyncio.Event) -> None:
    settings = MarketingSettings()
    interval = settings.coupon_sweep_interval_s
    sessionmaker = create_sessionmaker(engine)
    while not stop.is_set():
        try:
            while True:
                async with sessionmaker() as session, session.begin():
                    if await service.expire_due(session) < 500:
                        break
            async with sessionmaker() as session, session.begin():
                await service.release_unconfirmed(session, settings.coupon_unconfirmed_lock_s)
        except Exception as exc:  # the database away: try again next round
            log.warning("marketing.coupon_sweep_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
