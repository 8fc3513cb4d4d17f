"""The activities' background loop, run in the consumer process: every
``activity_sweep_interval_s`` expired groups fail, unordered group slots are freed and
expired bargains close; every ``abandoned_cart_scan_interval_s`` stale carts get their
offers. Rows are taken ``FOR UPDATE SKIP LOCKED``, so replicas share the work."""

import asyncio
import contextlib
import time

from shared.db import create_sessionmaker
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncEngine

from marketing.abandoned_carts import service as abandoned_carts
from marketing.bargains import service as bargains
from marketing.group_buys import service as group_buys
from marketing.peers import Peers
from marketing.settings import MarketingSettings

log = get_logger(__name__)


async def run(engine: AsyncEngine, stop: asyncio.Event) -> None:
    settings = MarketingSettings()
    sessionmaker = create_sessionmaker(engine)
    peers = Peers.build(settings)
    next_scan = time.monotonic()
    try:
        while not stop.is_set():
            try:
                async with sessionmaker() as session, session.begin():
                    await group_buys.fail_expired(session)
                async with sessionmaker() as session, session.begin():
                    await group_buys.free_unordered_slots(session, settings.group_join_hold_s)
                async with sessionmaker() as session, session.begin():
                    await bargains.expire(session)
            except Exception as exc:  # the database away: try again next round
                log.warning("marketing.activity_sweep_failed", error=repr(exc))
            if time.monotonic() >= next_scan:
                next_scan = time.monotonic() + settings.abandoned_cart_scan_interval_s
                try:
                    await abandoned_carts.scan(sessionmaker, peers, settings)
                except Exception as exc:  # order or member away: next round
                    log.warning("marketing.abandoned_cart_scan_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.activity_sweep_interval_s)
    finally:
        await peers.aclose()
