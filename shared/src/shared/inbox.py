"""Inbox: a consumer records each handled ``event_id`` in the same transaction as its effects.

A redelivered event finds its id already there and changes nothing. An event whose handler
keeps failing is retried with backoff, then parked in ``dead_letters`` so the partition
moves on; staff can replay it from there.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import BigInteger, DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.context import request_context
from shared.db import KitBase, SessionMaker
from shared.events import Event, topic_for
from shared.kafka import consumer_config, ensure_topics
from shared.logging import get_logger
from shared.metrics import CONSUMER_HANDLED, CONSUMER_LAG
from shared.outbox import Backoff, wait_or_stop
from shared.settings import ServiceSettings

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]


class InboxRow(KitBase):
    __tablename__ = "inbox"

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeadLetter(KitBase):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    type: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int]
    offset: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


async def handle_once(session: AsyncSession, event: Event, handler: Handler) -> bool:
    """Apply ``handler`` unless this event was handled before. Caller commits.

    Returns False for a duplicate. Concurrent duplicates are serialised by the primary key:
    the second insert waits for the first transaction and then inserts nothing.
    """
    inserted = await session.scalar(
        insert(InboxRow)
        .values(event_id=event.event_id, type=event.type)
        .on_conflict_do_nothing(index_elements=[InboxRow.event_id])
        .returning(InboxRow.event_id)
    )
    if inserted is None:
        return False
    await handler(session, event)
    return True


class EventConsumer:
    """Consumes the topics its handlers need, each event through the inbox."""

    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: SessionMaker,
        handlers: Mapping[str, Handler],
        group_id: str | None = None,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._handlers = dict(handlers)
        self.group_id = group_id or f"{settings.service_name}-consumer"
        self.topics = sorted({topic_for(t) for t in self._handlers})

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(cap=10.0)
        while not stop.is_set():
            consumer: AIOKafkaConsumer | None = None
            try:
                await ensure_topics(self._settings, self.topics)
                consumer = AIOKafkaConsumer(
                    *self.topics, **consumer_config(self._settings, self.group_id)
                )
                await consumer.start()
                log.info("consumer.started", group=self.group_id, topics=self.topics)
                backoff.reset()
                await self._poll(consumer, stop)
            except Exception as exc:  # broker or database away: start over after a pause
                log.warning("consumer.error", group=self.group_id, error=repr(exc))
                await wait_or_stop(stop, backoff.next())
            finally:
                if consumer is not None:
                    try:
                        await asyncio.wait_for(consumer.stop(), timeout=10)
                    except Exception as exc:
                        log.debug("consumer.stop_failed", error=repr(exc))

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, records in batches.items():
                for record in records:
                    await self._handle_record(record)
                await consumer.commit({tp: records[-1].offset + 1})
            await self._report_lag(consumer)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = Event.from_bytes(record.value or b"")
        except ValueError as exc:
            await self._dead_letter(record, None, f"unreadable envelope: {exc}")
            return
        with request_context(event.request_id):
            await self._handle_event(record, event)

    async def _handle_event(self, record: ConsumerRecord[bytes, bytes], event: Event) -> None:
        handler = self._handlers.get(event.type)
        if handler is None:
            CONSUMER_HANDLED.labels(self.group_id, event.type, "ignored").inc()
            return
        backoff = Backoff(first=0.1, cap=5.0)
        for attempt in range(1, self._settings.consumer_max_attempts + 1):
            try:
                async with self._sessionmaker() as session, session.begin():
                    applied = await handle_once(session, event, handler)
                outcome = "handled" if applied else "duplicate"
                CONSUMER_HANDLED.labels(self.group_id, event.type, outcome).inc()
                log.info("consumer.event_" + outcome, type=event.type, event_id=str(event.event_id))
                return
            except Exception as exc:
                log.warning(
                    "consumer.handler_failed",
                    type=event.type,
                    event_id=str(event.event_id),
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt == self._settings.consumer_max_attempts:
                    await self._dead_letter(record, event, repr(exc))
                    return
                await asyncio.sleep(backoff.next())

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], event: Event | None, error: str
    ) -> None:
        CONSUMER_HANDLED.labels(self.group_id, event.type if event else "unknown", "dead").inc()
        log.error("consumer.dead_letter", topic=record.topic, offset=record.offset, error=error)
        async with self._sessionmaker() as session, session.begin():
            session.add(
                DeadLetter(
                    event_id=event.event_id if event else None,
                    type=event.type if event else None,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    raw=event.model_dump(mode="json") if event else None,
                    error=error[:4000],
                )
            )


__all__ = ["EventConsumer", "Handler", "TopicPartition", "handle_once"]
