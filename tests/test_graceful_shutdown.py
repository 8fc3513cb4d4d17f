"""SIGTERM, as Kubernetes sends it: HTTP pods drain, consumers commit and leave, relays flush.

Real processes against the real servers; deadlines are generous, nothing asserts on timing.
"""

import asyncio
import signal
import subprocess
import uuid

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from devstack.infra import free_port
from shared.events import Event
from shared.kafka import consumer_config, ensure_topics, producer_config
from shared.outbox import OutboxRow, add_event
from shared.settings import InfraSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.support import Processes, eventually
from tests.test_outbox_inbox import delivered

EXIT_DEADLINE_S = 30.0
# uvicorn re-raises the SIGTERM it handled once it has shut down gracefully.
CLEAN_HTTP_EXITS = {0, -signal.SIGTERM}


async def exited(process: subprocess.Popen[bytes], timeout: float = EXIT_DEADLINE_S) -> int:
    async def gone() -> int | None:
        return process.poll()

    return await eventually(gone, timeout=timeout)


async def test_http_process_fails_readiness_and_finishes_in_flight_requests_on_sigterm(
    processes: Processes,
) -> None:
    port = str(free_port())
    http = processes.start(
        "slow-http",
        "-m",
        "uvicorn",
        "tests.apps.slow_app:create_app",
        "--factory",
        "--port",
        port,
        "--timeout-graceful-shutdown",
        "30",
        env={"ORDER_SHUTDOWN_DRAIN_S": "3"},
    )
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as slow_client,
    ):

        async def status(path: str) -> int | None:
            try:
                return (await client.get(path)).status_code
            except httpx.TransportError:
                return None

        async def ready() -> bool:
            return await status("/readyz") == 200

        await eventually(ready, timeout=60)
        slow = asyncio.create_task(slow_client.get("/slow", params={"after_drain_s": 5}))

        async def in_flight() -> bool:
            count: int = (await client.get("/slow/in-flight")).json()["in_flight"]
            return count == 1

        await eventually(in_flight)
        processes.signal("slow-http", signal.SIGTERM)

        async def unready() -> dict[str, object] | None:
            response = await client.get("/readyz")
            return response.json() if response.status_code == 503 else None

        body = await eventually(unready, timeout=10)
        assert body["error"]["code"] == "shutting_down"  # type: ignore[index]

        response = await slow  # in flight through the drain and uvicorn's own shutdown
        assert response.status_code == 200
        assert response.json() == {"saw_draining": True}
    assert await exited(http) in CLEAN_HTTP_EXITS


async def test_consumer_commits_what_it_handled_and_exits_cleanly_on_sigterm(
    processes: Processes, engines: dict[str, AsyncEngine], envs: dict[str, dict[str, str]]
) -> None:
    settings = InfraSettings(
        kafka_bootstrap_servers=envs["order"]["ORDER_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=False,
    )
    consumer = processes.start("catalog-consumer", "-m", "catalog.consumer")
    probe_id = uuid.uuid4()
    event = Event(
        type="order.probe_sent", aggregate_id=str(probe_id), payload={"probe_id": str(probe_id)}
    )
    await ensure_topics(settings, [event.topic])
    producer = AIOKafkaProducer(**producer_config(settings))
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            event.topic,
            value=event.to_bytes(),
            key=event.aggregate_id.encode(),
            headers=event.kafka_headers(),
        )
    finally:
        await producer.stop()
    await delivered(engines["catalog"], probe_id, timeout=60)

    processes.signal("catalog-consumer", signal.SIGTERM)
    assert await exited(consumer) == 0

    group = consumer_config(settings, "catalog-consumer")
    reader = AIOKafkaConsumer(**group)  # same group, not subscribed: only reads its offsets
    await reader.start()
    try:
        committed = await reader.committed(TopicPartition(sent.topic, sent.partition))
    finally:
        await reader.stop()
    assert committed is not None and committed > sent.offset


async def test_relay_flushes_and_exits_cleanly_on_sigterm(
    processes: Processes, engines: dict[str, AsyncEngine]
) -> None:
    order = engines["order"]
    aggregate = str(uuid.uuid4())
    async with AsyncSession(order) as session, session.begin():
        for i in range(300):
            payload = {"probe_id": str(uuid.uuid4()), "i": i}
            add_event(session, "order.probe_sent", aggregate, payload)

    async def counts() -> tuple[int, int]:
        async with AsyncSession(order) as session:
            rows = (
                await session.execute(
                    select(
                        func.count(OutboxRow.published_at),
                        func.count().filter(OutboxRow.published_at.is_(None)),
                    ).where(OutboxRow.aggregate_id == aggregate)
                )
            ).one()
        return int(rows[0]), int(rows[1])

    relay = processes.start("order-relay", "-m", "shared.relay", "order")

    async def publishing() -> bool:
        published, _ = await counts()
        return published > 0

    await eventually(publishing, timeout=60)
    processes.signal("order-relay", signal.SIGTERM)
    assert await exited(relay) == 0
    published, pending = await counts()
    assert published + pending == 300  # the batch in flight was marked, nothing lost

    processes.start("order-relay-again", "-m", "shared.relay", "order")

    async def flushed() -> bool:
        return (await counts())[1] == 0

    await eventually(flushed, timeout=60)
