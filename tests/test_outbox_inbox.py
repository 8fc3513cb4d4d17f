"""The kit's delivery guarantees, proven with the real relay and consumer processes."""

import asyncio
import signal
import uuid

import httpx
from shared.events import Event
from shared.inbox import InboxRow
from shared.kafka import EventProducer
from shared.outbox import OutboxRow, add_event
from shared.probes import ProbeReceipt
from shared.settings import InfraSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.support import PrivateBroker, Processes, eventually


async def stage_probe(engine: AsyncEngine, source: str = "order") -> tuple[uuid.UUID, Event]:
    probe_id = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        event = add_event(
            session, f"{source}.probe_sent", str(probe_id), {"probe_id": str(probe_id)}
        )
    return probe_id, event


async def receipt(engine: AsyncEngine, probe_id: uuid.UUID) -> ProbeReceipt | None:
    async with AsyncSession(engine) as session:
        return await session.get(ProbeReceipt, probe_id)


async def outbox_row(engine: AsyncEngine, event_id: uuid.UUID) -> OutboxRow | None:
    async with AsyncSession(engine) as session:
        return await session.scalar(select(OutboxRow).where(OutboxRow.event_id == event_id))


async def delivered(engine: AsyncEngine, probe_id: uuid.UUID, timeout: float = 30) -> ProbeReceipt:
    async def probe() -> ProbeReceipt | None:
        return await receipt(engine, probe_id)

    return await eventually(probe, timeout=timeout)


async def test_event_committed_before_relay_dies_is_delivered_after_restart(
    processes: Processes, engines: dict[str, AsyncEngine]
) -> None:
    order, catalog = engines["order"], engines["catalog"]
    processes.start("catalog-consumer", "-m", "catalog.consumer")
    processes.start("order-relay", "-m", "shared.relay", "order")
    warm_up, _ = await stage_probe(order)
    await delivered(catalog, warm_up, timeout=60)

    processes.signal("order-relay", signal.SIGSTOP)  # frozen: it can no longer publish
    probe_id, event = await stage_probe(order)  # committed with its change
    processes.kill("order-relay")  # killed between our commit and its publish
    await asyncio.sleep(1.0)
    row = await outbox_row(order, event.event_id)
    assert row is not None and row.published_at is None
    assert await receipt(catalog, probe_id) is None

    processes.start("order-relay-restarted", "-m", "shared.relay", "order")
    got = await delivered(catalog, probe_id)
    assert got.event_id == event.event_id
    assert got.times_applied == 1
    row = await outbox_row(order, event.event_id)
    assert row is not None and row.published_at is not None


async def test_event_delivered_twice_takes_effect_once(
    processes: Processes, engines: dict[str, AsyncEngine], envs: dict[str, dict[str, str]]
) -> None:
    order, catalog = engines["order"], engines["catalog"]
    settings = InfraSettings(
        kafka_bootstrap_servers=envs["order"]["ORDER_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=False,
    )
    processes.start("catalog-consumer", "-m", "catalog.consumer")
    # The relay published this row, then died before marking it: it will publish it again.
    probe_id, event = await stage_probe(order)
    producer = EventProducer(settings)
    await producer.start()
    try:
        await producer.publish(event)
        await producer.publish(event)  # and a broker-level redelivery for good measure
    finally:
        await producer.stop()
    processes.start("order-relay", "-m", "shared.relay", "order")
    await delivered(catalog, probe_id, timeout=60)
    # A later event of the same aggregate on the same partition proves the copies were consumed.
    async with AsyncSession(order) as session, session.begin():
        sentinel = add_event(
            session, "order.probe_sent", str(probe_id), {"probe_id": str(uuid.uuid4())}
        )
    await delivered(catalog, uuid.UUID(sentinel.payload["probe_id"]))

    got = await receipt(catalog, probe_id)
    assert got is not None and got.times_applied == 1
    async with AsyncSession(catalog) as session:
        handled = await session.scalar(
            select(func.count()).select_from(InboxRow).where(InboxRow.event_id == event.event_id)
        )
    assert handled == 1


async def test_rolled_back_transaction_publishes_nothing(engines: dict[str, AsyncEngine]) -> None:
    order = engines["order"]
    probe_id = uuid.uuid4()
    try:
        async with AsyncSession(order) as session, session.begin():
            add_event(session, "order.probe_sent", str(probe_id), {"probe_id": str(probe_id)})
            await session.flush()
            raise RuntimeError("the business change failed")
    except RuntimeError:
        pass
    async with AsyncSession(order) as session:
        staged = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.aggregate_id == str(probe_id))
        )
    assert staged == 0


async def test_writes_succeed_while_broker_is_down_and_events_arrive_after(
    processes: Processes,
    engines: dict[str, AsyncEngine],
    envs: dict[str, dict[str, str]],
    private_broker: PrivateBroker,
) -> None:
    order, catalog = engines["order"], engines["catalog"]
    port = envs["order"]["ORDER_HTTP_PORT"]
    own = private_broker.env(processes.env)
    processes.start(
        "order-http", "-m", "uvicorn", "order.main:create_app", "--factory", "--port", port, env=own
    )
    processes.start("order-relay", "-m", "shared.relay", "order", env=own)
    processes.start("catalog-consumer", "-m", "catalog.consumer", env=own)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def up() -> bool:
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(up, timeout=60)
        warm = (await client.post("/admin/v1/orders/diagnostics/probes")).json()
        await delivered(catalog, uuid.UUID(warm["probe_id"]), timeout=60)

        loop = asyncio.get_running_loop()
        private_broker.drop()
        stopped_at = loop.time()
        sent = []
        for _ in range(20):
            response = await client.post("/admin/v1/orders/diagnostics/probes")
            assert response.status_code == 202, response.text
            sent.append(response.json())
            await asyncio.sleep(0.2)
        await asyncio.sleep(max(0.0, 10 - (loop.time() - stopped_at)))
        for probe in sent:  # nothing could have been published
            row = await outbox_row(order, uuid.UUID(probe["event_id"]))
            assert row is not None and row.published_at is None
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "not_ready"
        private_broker.restore()

    for probe in sent:
        await delivered(catalog, uuid.UUID(probe["probe_id"]), timeout=90)


async def test_an_event_that_keeps_failing_is_parked_and_the_partition_moves_on(
    processes: Processes, engines: dict[str, AsyncEngine]
) -> None:
    from shared.inbox import DeadLetter

    order, catalog = engines["order"], engines["catalog"]
    aggregate = str(uuid.uuid4())
    async with AsyncSession(order) as session, session.begin():
        poison = add_event(session, "order.probe_sent", aggregate, {"probe_id": "not-a-uuid"})
        good_id = uuid.uuid4()
        add_event(session, "order.probe_sent", aggregate, {"probe_id": str(good_id)})
    processes.start("catalog-consumer", "-m", "catalog.consumer")
    processes.start("order-relay", "-m", "shared.relay", "order")
    await delivered(catalog, good_id, timeout=60)  # same partition, after the poison event
    async with AsyncSession(catalog) as session:
        parked = await session.scalar(
            select(DeadLetter).where(DeadLetter.event_id == poison.event_id)
        )
        handled = await session.get(InboxRow, poison.event_id)
    assert parked is not None and "UUID" in parked.error
    assert parked.raw is not None and parked.raw["payload"] == {"probe_id": "not-a-uuid"}
    assert handled is None  # its failed effects were rolled back with its inbox row
