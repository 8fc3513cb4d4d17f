"""Transactional outbox: events are rows written in the same transaction as the change.

``add_event(session, ...)`` stages the row; the request edge commits both together, or
neither. The relay (``python -m shared.relay SERVICE``) publishes rows to Kafka in id order,
keeping the order of each aggregate, marks them published, backs off while the broker is
away and resumes where it stopped. One relay per service is active at a time (a PostgreSQL
advisory lock); extra replicas wait as hot standbys.
"""

import asyncio
import contextlib
import uuid
import zlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.context import current_request_id
from shared.db import KitBase
from shared.events import Event, topic_for
from shared.kafka import EventProducer, ensure_topics
from shared.logging import get_logger
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_FAILURES, OUTBOX_PUBLISHED
from shared.settings import ServiceSettings

log = get_logger(__name__)


class OutboxRow(KitBase):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(200))
    aggregate_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    def to_event(self) -> Event:
        return Event(
            event_id=self.event_id,
            type=self.type,
            occurred_at=self.occurred_at,
            aggregate_id=self.aggregate_id,
            payload=self.payload,
            request_id=self.request_id,
        )


def add_event(
    session: AsyncSession, event_type: str, aggregate_id: str, payload: dict[str, Any]
) -> Event:
    """Stage an event in the caller's transaction. It is published only if that commits."""
    event = Event(
        type=event_type,
        aggregate_id=aggregate_id,
        payload=payload,
        request_id=current_request_id(),
    )
    session.add(
        OutboxRow(
            event_id=event.event_id,
            topic=topic_for(event_type),
            type=event.type,
            aggregate_id=event.aggregate_id,
            payload=event.payload,
            request_id=event.request_id,
            occurred_at=event.occurred_at,
        )
    )
    return event


async def outbox_backlog(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
    )
    return int(count or 0)


class Backoff:
    """Exponential backoff: 0.2 s doubling up to a cap, reset on success."""

    def __init__(self, first: float = 0.2, cap: float = 10.0) -> None:
        self.first, self.cap, self.current = first, cap, first

    def next(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.current = self.first


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, engine: AsyncEngine) -> None:
        self._settings = settings
        self._engine = engine
        self._service = settings.service_name
        self._lock_key = zlib.crc32(f"outbox-relay:{self._service}".encode())
        self._producer: EventProducer | None = None
        self._backoff = Backoff()
        self._last_cleanup = datetime.min.replace(tzinfo=UTC)
        self._stop = asyncio.Event()  # set by SIGTERM through run(); cuts backoff pauses short

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        while not stop.is_set():
            try:
                async with self._engine.connect() as lock_conn:
                    if not await self._try_lock(lock_conn):
                        log.info("outbox.relay_standby", service=self._service)
                        await wait_or_stop(stop, 5.0)
                        continue
                    log.info("outbox.relay_active", service=self._service)
                    await self._lead(lock_conn, stop)
            except Exception as exc:  # database away: retry after a pause
                log.warning("outbox.relay_error", error=repr(exc))
                await wait_or_stop(stop, self._backoff.next())
        await self._close_producer()

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key})
        await conn.commit()
        return bool(got)

    async def _lead(self, lock_conn: AsyncConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await lock_conn.execute(text("SELECT 1"))  # still holding the lock?
            await lock_conn.commit()
            published = await self.publish_batch()
            await self._cleanup_if_due()
            if published < self._settings.outbox_batch_size:
                await wait_or_stop(stop, self._settings.outbox_poll_interval_s)

    async def publish_batch(self) -> int:
        """Publish one batch of unpublished rows; returns how many were published.

        No transaction stays open while Kafka is waited on: rows are read, the transaction
        ends, they are published, and the outcome is written in a second one."""
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            rows = (
                await session.scalars(
                    select(OutboxRow)
                    .where(OutboxRow.published_at.is_(None))
                    .order_by(OutboxRow.id)
                    .limit(self._settings.outbox_batch_size)
                )
            ).all()
            backlog = await outbox_backlog(session)
        OUTBOX_BACKLOG.labels(self._service).set(backlog)
        if not rows:
            return 0
        try:
            producer = await self._ensure_producer({r.topic for r in rows})
        except Exception as exc:
            OUTBOX_FAILURES.labels(self._service).inc()
            log.warning("outbox.broker_unavailable", error=repr(exc), backlog=backlog)
            await self._close_producer()
            await wait_or_stop(self._stop, self._backoff.next())
            return 0
        done, failed = await _publish_in_aggregate_order(producer, rows)
        async with AsyncSession(self._engine) as session, session.begin():
            if done:
                await session.execute(
                    sa_update(OutboxRow)
                    .where(OutboxRow.id.in_(done))
                    .values(published_at=datetime.now(UTC))
                )
            if failed:
                first_error = next(iter(failed.values()))
                await session.execute(
                    sa_update(OutboxRow)
                    .where(OutboxRow.id.in_(list(failed)))
                    .values(attempts=OutboxRow.attempts + 1, last_error=first_error[:1000])
                )
        OUTBOX_PUBLISHED.labels(self._service).inc(len(done))
        OUTBOX_BACKLOG.labels(self._service).set(max(backlog - len(done), 0))
        if failed:
            OUTBOX_FAILURES.labels(self._service).inc(len(failed))
            log.warning("outbox.publish_failed", failed=len(failed), published=len(done))
            await self._close_producer()
            await wait_or_stop(self._stop, self._backoff.next())
        else:
            self._backoff.reset()
        return len(done)

    async def _ensure_producer(self, topics: set[str]) -> EventProducer:
        if self._producer is None:
            await ensure_topics(self._settings, topics)
            producer = EventProducer(self._settings)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), timeout=5)
            except Exception as exc:
                log.debug("outbox.producer_stop_failed", error=repr(exc))

    async def _cleanup_if_due(self) -> None:
        now = datetime.now(UTC)
        if now - self._last_cleanup < timedelta(minutes=10):
            return
        self._last_cleanup = now
        cutoff = now - timedelta(hours=self._settings.outbox_retention_hours)
        async with AsyncSession(self._engine) as session:
            await session.execute(
                delete(OutboxRow).where(
                    OutboxRow.published_at.is_not(None), OutboxRow.published_at < cutoff
                )
            )
            await session.commit()


async def _publish_in_aggregate_order(
    producer: EventProducer, rows: list[OutboxRow] | Any
) -> tuple[list[int], dict[int, str]]:
    """Publish rows: aggregates in parallel, each aggregate's rows one after another.

    After a failure, the rest of that aggregate waits for the next batch, so no event
    overtakes an earlier one of the same aggregate.
    """
    chains: dict[tuple[str, str], list[OutboxRow]] = defaultdict(list)
    for row in rows:
        chains[(row.topic, row.aggregate_id)].append(row)
    done: list[int] = []
    failed: dict[int, str] = {}

    async def publish_chain(chain: list[OutboxRow]) -> None:
        for row in chain:
            try:
                await producer.publish(row.to_event())
            except Exception as exc:
                failed[row.id] = repr(exc)
                return
            done.append(row.id)

    await asyncio.gather(*(publish_chain(c) for c in chains.values()))
    return done, failed


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Pause for ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
