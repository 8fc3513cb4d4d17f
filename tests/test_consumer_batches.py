"""The consumer kit's opt-in batches: a run of events from one partition in one transaction.

Proven with the real broker and PostgreSQL: an ``EventConsumer`` in this process, on a topic
of its own (a fresh event source per test, one partition, so order is the log's order).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from shared.db import create_sessionmaker
from shared.events import Event
from shared.inbox import DeadLetter, EventConsumer, InboxRow
from shared.kafka import EventProducer, ensure_topics
from shared.probes import ProbeReceipt, record_probe
from shared.settings import ServiceSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.support import eventually


class Recorder:
    """Probe handlers that remember what the consumer gave them."""

    def __init__(self) -> None:
        self.batches: list[list[uuid.UUID]] = []
        self.singles: list[uuid.UUID] = []

    async def one(self, session: AsyncSession, event: Event) -> None:
        self.singles.append(event.event_id)
        await record_probe(session, event)

    async def many(self, session: AsyncSession, events: Sequence[Event]) -> None:
        self.batches.append([e.event_id for e in events])
        for event in events:
            await record_probe(session, event)


@pytest.fixture
def settings(envs: dict[str, dict[str, str]]) -> ServiceSettings:
    env = envs["catalog"]
    return ServiceSettings(
        service_name="catalog",
        database_url=env["CATALOG_DATABASE_URL"],
        kafka_bootstrap_servers=env["CATALOG_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=False,
        kafka_topic_partitions=1,
        consumer_max_attempts=2,
    )


@pytest.fixture
async def producer(settings: ServiceSettings) -> AsyncIterator[EventProducer]:
    made = EventProducer(settings)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


def probe(kind: str, probe_id: object) -> Event:
    return Event(type=kind, aggregate_id="one-partition", payload={"probe_id": str(probe_id)})


class Running:
    """An EventConsumer with batch handlers, running in this process until stopped."""

    def __init__(self, settings: ServiceSettings, engine: AsyncEngine, kind: str) -> None:
        self.recorder = Recorder()
        self.stop = asyncio.Event()
        consumer = EventConsumer(
            settings,
            create_sessionmaker(engine),
            {kind: self.recorder.one},
            group_id=f"batch-test-{uuid.uuid4().hex[:8]}",
            batch_handlers={kind: self.recorder.many},
        )
        self.task = asyncio.create_task(consumer.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=60)


async def receipt(engine: AsyncEngine, probe_id: uuid.UUID) -> ProbeReceipt | None:
    async with AsyncSession(engine) as session:
        return await session.get(ProbeReceipt, probe_id)


async def applied(engine: AsyncEngine, probe_id: uuid.UUID) -> int:
    async def got() -> ProbeReceipt | None:
        return await receipt(engine, probe_id)

    return (await eventually(got, timeout=60)).times_applied


async def fresh_kind(settings: ServiceSettings) -> str:
    kind = f"bt{uuid.uuid4().hex[:10]}.probe_sent"
    await ensure_topics(settings, [Event(type=kind, aggregate_id="x", payload={}).topic])
    return kind


async def test_a_batch_takes_effect_once_and_a_redelivered_batch_changes_nothing(
    settings: ServiceSettings, producer: EventProducer, engines: dict[str, AsyncEngine]
) -> None:
    engine = engines["catalog"]
    kind = await fresh_kind(settings)
    ids = [uuid.uuid4() for _ in range(5)]
    events = [probe(kind, i) for i in ids]
    for event in [*events[:3], events[2], *events[3:]]:  # the third one twice in the log
        await producer.publish(event)

    first = Running(settings, engine, kind)
    try:
        assert [await applied(engine, i) for i in ids] == [1] * 5
    finally:
        await first.close()
    assert max(len(b) for b in first.recorder.batches) > 1  # the batch path was taken
    handled = [e for b in first.recorder.batches for e in b] + first.recorder.singles
    assert sorted(handled) == sorted(e.event_id for e in events)  # the copy was not handed on

    # The same log again, as after a crash before the offsets were committed (a new group
    # reads it from the start), then one new event behind it.
    sentinel_id = uuid.uuid4()
    sentinel = probe(kind, sentinel_id)
    await producer.publish(sentinel)
    again = Running(settings, engine, kind)
    try:
        assert await applied(engine, sentinel_id) == 1
    finally:
        await again.close()
    assert [e for b in again.recorder.batches for e in b] + again.recorder.singles == [
        sentinel.event_id
    ]
    assert [await applied(engine, i) for i in ids] == [1] * 5
    async with AsyncSession(engine) as session:
        inbox = await session.scalar(
            select(func.count())
            .select_from(InboxRow)
            .where(InboxRow.event_id.in_([e.event_id for e in events]))
        )
    assert inbox == 5


async def test_a_poison_event_in_a_batch_is_parked_and_the_others_take_effect_once(
    settings: ServiceSettings, producer: EventProducer, engines: dict[str, AsyncEngine]
) -> None:
    engine = engines["catalog"]
    kind = await fresh_kind(settings)
    good = [uuid.uuid4() for _ in range(3)]
    poison = probe(kind, "not-a-uuid")
    events = [probe(kind, good[0]), poison, probe(kind, good[1]), probe(kind, good[2])]
    for event in events:
        await producer.publish(event)

    running = Running(settings, engine, kind)
    try:
        assert [await applied(engine, i) for i in good] == [1, 1, 1]

        async def parked() -> DeadLetter | None:
            async with AsyncSession(engine) as session:
                return await session.scalar(
                    select(DeadLetter).where(DeadLetter.event_id == poison.event_id)
                )

        letter = await eventually(parked, timeout=60)
    finally:
        await running.close()
    assert "UUID" in letter.error
    assert any(poison.event_id in b for b in running.recorder.batches)  # tried as a batch
    assert poison.event_id in running.recorder.singles  # then alone, and parked
    async with AsyncSession(engine) as session:
        assert await session.get(InboxRow, poison.event_id) is None
