"""The reservation expiry sweeper: a loop inside the consumer process (``catalog.consumer``).

Each round is one transaction releasing up to ``RESERVATION_SWEEP_BATCH`` expired
reservations; any number of consumer replicas may sweep at once (SKIP LOCKED, and each
release is a conditional UPDATE), so every reservation is released exactly once.
"""

import asyncio

from shared.db import SessionMaker
from shared.logging import get_logger
from shared.outbox import Backoff, wait_or_stop

from catalog.settings import CatalogSettings
from catalog.stock import service

log = get_logger(__name__)


async def sweep_once(sessionmaker: SessionMaker, batch: int) -> int:
    async with sessionmaker() as session, session.begin():
        return await service.sweep(session, batch)


async def run_sweeper(
    settings: CatalogSettings, sessionmaker: SessionMaker, stop: asyncio.Event
) -> None:
    backoff = Backoff()
    while not stop.is_set():
        try:
            released = await sweep_once(sessionmaker, settings.reservation_sweep_batch)
        except Exception as exc:  # database away: try again later
            log.warning("catalog.sweep_failed", error=repr(exc))
            await wait_or_stop(stop, backoff.next())
            continue
        backoff.reset()
        if released:
            log.info("catalog.reservations_expired", count=released)
        if released < settings.reservation_sweep_batch:
            await wait_or_stop(stop, settings.reservation_sweep_interval_s)
