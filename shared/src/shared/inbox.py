"""Inbox: a consumer records each handled ``event_id`` in the same transaction as its effects.

A redelivered event finds its id already there and changes nothing. An event whose handler
keeps failing is retried with backoff, then parked in ``dead_letters`` so the partition
moves on; staff can replay it from there.

Batches (opt-in, for high-volume event types): a consumer given a ``batch_handlers`` entry
for a type applies each run of consecutive events of that type fetched from one partition
in one transaction (their inbox rows, then the batch handler with the events not handled
before, in partition order), and commits the partition's offset once per fetch. A batch
that fails is rolled back and its events are applied one by one with the type's ordinary
handler, with the usual retries and dead letters: a poison event is parked alone and the
others take effect, once.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
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
from shared.kafka import consumer_config, ensure_topics, stop_consumer
from shared.logging import get_logger
from shared.metrics import CONSUMER_HANDLED, CONSUMER_LAG
from shared.outbox import Backoff, wait_or_stop
from shared.settings import ServiceSettings

log = get_logger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
# Must have the effects of the type's Handler applied to each event in order.
BatchHandler = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]

FETCH_MAX_RECORDS = 200
# After SIGTERM, how long a batch being applied may take to finish and commit its offsets.
# A consumer waiting on the broker (fetching, joining the group) is stopped at once.
STOP_GRACE_S = 10.0
# A fetch returns within its 0.5 s timeout, except while the consumer waits for the group
# to assign it partitions (aiokafka waits for that without a limit). A join or rebalance
# takes at most the rebalance timeout (the session timeout, 10 s) on a sound broker. Stuck
# longer (seen on Tansu: a member that had left named leader of the next generation, so the
# followers' SyncGroup never completes), the consumer leaves and joins again as a new member.
JOIN_STALL_S = 45.0


class GroupJoinStalled(RuntimeError):
    pass


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


async def handle_batch_once(
    session: AsyncSession, events: Sequence[Event], handler: BatchHandler
) -> list[Event]:
    """Apply ``handler`` to the events not handled before (each once, in order). Caller
    commits. Returns the events applied; the others were duplicates."""
    inserted = set(
        await session.scalars(
            insert(InboxRow)
            .values([{"event_id": e.event_id, "type": e.type} for e in events])
            .on_conflict_do_nothing(index_elements=[InboxRow.event_id])
            .returning(InboxRow.event_id)
        )
    )
    fresh: list[Event] = []
    for event in events:
        if event.event_id in inserted:
            inserted.discard(event.event_id)  # a second copy in the same batch is a duplicate
            fresh.append(event)
    if fresh:
        await handler(session, fresh)
    return fresh


Decoded = tuple[ConsumerRecord[bytes, bytes], Event]


class EventConsumer:
    """Consumes the topics its handlers need, each event through the inbox.

    ``batch_handlers`` (optional, each type also needs its ordinary handler) makes the
    consumer apply runs of those types in one transaction each; see the module's doc.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: SessionMaker,
        handlers: Mapping[str, Handler],
        group_id: str | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._handlers = dict(handlers)
        self._batch_handlers = dict(batch_handlers or {})
        unknown = set(self._batch_handlers) - set(self._handlers)
        if unknown:
            raise ValueError(f"batch handlers need an ordinary handler too: {sorted(unknown)}")
        self.group_id = group_id or f"{settings.service_name}-consumer"
        self.topics = sorted({topic_for(t) for t in self._handlers})
        self._applying = False  # inside a fetched batch: handling it or committing it
        self._positions: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(cap=10.0)
        while not stop.is_set():
            consumer: AIOKafkaConsumer | None = None
            try:
                consumer = AIOKafkaConsumer(
                    *self.topics, **consumer_config(self._settings, self.group_id)
                )
                await self._until_stopped(self._consume(consumer, stop, backoff), stop)
            except Exception as exc:  # broker or database away: start over after a pause
                log.warning("consumer.error", group=self.group_id, error=repr(exc))
                await wait_or_stop(stop, backoff.next())
            finally:
                if consumer is not None:
                    try:
                        await stop_consumer(consumer)
                    except Exception as exc:
                        log.debug("consumer.stop_failed", error=repr(exc))

    async def _consume(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event, backoff: Backoff
    ) -> None:
        await ensure_topics(self._settings, self.topics)
        await consumer.start()
        log.info("consumer.started", group=self.group_id, topics=self.topics)
        backoff.reset()
        await self._poll(consumer, stop)

    async def _until_stopped(self, work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
        """Run ``work`` until it ends or ``stop`` is set. Once stopping, a batch being applied
        may finish and commit (up to STOP_GRACE_S); a wait on the broker (connecting,
        joining or rebalancing the group, fetching) is cancelled at once."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done() and self._applying:
                await asyncio.wait({task}, timeout=STOP_GRACE_S)
            if not task.done():
                log.info("consumer.stop_interrupted", group=self.group_id, applying=self._applying)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return
            task.result()
        finally:
            stopping.cancel()
            if not task.done():
                task.cancel()

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            fetch = consumer.getmany(timeout_ms=500, max_records=FETCH_MAX_RECORDS)
            try:
                batches = await asyncio.wait_for(fetch, JOIN_STALL_S)
            except TimeoutError:  # only a wait for partitions lasts this long
                raise GroupJoinStalled(
                    f"no partitions from the group for {JOIN_STALL_S:.0f} s"
                ) from None
            if stop.is_set():
                return  # not applied, not committed: the partitions' next owner gets them
            self._applying = True
            try:
                for tp, records in batches.items():
                    await self._handle_records(records)
                    await consumer.commit({tp: records[-1].offset + 1})
                    self._positions[tp] = records[-1].offset + 1
            finally:
                self._applying = False
            self._report_lag(consumer)

    def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Lag per assigned partition from the last offset handled here (never waits on the
        group: ``position()`` would block for as long as a rebalance lasts)."""
        assigned = consumer.assignment()
        for tp in list(self._positions):
            if tp not in assigned:
                del self._positions[tp]
        for tp, position in self._positions.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(highwater - position, 0)
                )

    async def _handle_records(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """One partition's fetched records, in order; runs of a batch type go together."""
        run: list[Decoded] = []
        for record in records:
            try:
                event = Event.from_bytes(record.value or b"")
            except ValueError as exc:
                await self._handle_run(run)
                run = []
                await self._dead_letter(record, None, f"unreadable envelope: {exc}")
                continue
            if run and run[0][1].type != event.type:
                await self._handle_run(run)
                run = []
            if event.type in self._batch_handlers:
                run.append((record, event))
            else:
                await self._one_by_one([(record, event)])
        await self._handle_run(run)

    async def _handle_run(self, run: Sequence[Decoded]) -> None:
        if len(run) <= 1:
            await self._one_by_one(run)
            return
        kind = run[0][1].type
        events = [event for _, event in run]
        try:
            async with self._sessionmaker() as session, session.begin():
                applied = await handle_batch_once(session, events, self._batch_handlers[kind])
        except Exception as exc:  # one by one: retries, and a poison event is parked alone
            log.warning("consumer.batch_failed", type=kind, size=len(run), error=repr(exc))
            await self._one_by_one(run)
            return
        duplicates = len(events) - len(applied)
        CONSUMER_HANDLED.labels(self.group_id, kind, "handled").inc(len(applied))
        if duplicates:
            CONSUMER_HANDLED.labels(self.group_id, kind, "duplicate").inc(duplicates)
        log.info("consumer.batch_handled", type=kind, handled=len(applied), duplicates=duplicates)

    async def _one_by_one(self, run: Sequence[Decoded]) -> None:
        for record, event in run:
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


__all__ = [
    "BatchHandler",
    "EventConsumer",
    "GroupJoinStalled",
    "Handler",
    "TopicPartition",
    "handle_batch_once",
    "handle_once",
]
