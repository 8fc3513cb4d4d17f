"""The kit's throughput, as ratios against baselines from the same run.

1. Gateway forwarding: the same service route called directly and through the gateway.
2. Outbox relay: events/s published by the relay process versus a bare aiokafka producer.

Embedded servers are started unless ``MINIMALL_*_URL`` are set. Absolute numbers drift
±20% between runs on a shared 2-core machine; compare the ratios.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from devstack.infra import REDIS_DB, Infra, free_port, start_infra
from devstack.stack import create_databases, database_name, migrate, service_env
from shared.db import create_engine
from shared.events import Event
from shared.kafka import EventProducer, ensure_topics
from shared.logging import configure_logging
from shared.outbox import OutboxRow
from shared.settings import InfraSettings
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

PREFIX = "b_"
CONCURRENCY = 32
DURATION_S = 5.0
EVENTS = 5000


async def load(url: str) -> float:
    """Requests per second answered (any status) by ``url`` under CONCURRENCY clients."""
    done = 0
    deadline = time.perf_counter() + DURATION_S
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return done / (time.perf_counter() - started)


async def wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def bench_gateway(infra: Infra, env: dict[str, str]) -> None:
    port, gw_port = int(env["ORDER_HTTP_PORT"]), free_port()
    gw_env = {
        "GATEWAY_REDIS_URL": infra.redis_db_url(REDIS_DB["gateway"]),
        "GATEWAY_UPSTREAMS": f'{{"order": "http://127.0.0.1:{port}"}}',
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    uvicorn = ["-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    procs = [
        spawn(
            [*uvicorn, "order.main:create_app", "--port", str(port)],
            {**env, "ORDER_LOG_LEVEL": "WARNING"},
        ),
        spawn([*uvicorn, "gateway.main:create_app", "--port", str(gw_port)], gw_env),
    ]
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        await wait_http(f"http://127.0.0.1:{gw_port}/healthz")
        path = f"/admin/v1/orders/diagnostics/probes/{uuid.uuid4()}"  # a 404 after one SELECT
        await load(f"http://127.0.0.1:{port}{path}")  # warm up
        direct = await load(f"http://127.0.0.1:{port}{path}")
        proxied = await load(f"http://127.0.0.1:{gw_port}{path}")
        ratio = proxied / direct
        print(f"gateway  direct service route      {direct:8.0f} req/s   (baseline 1.00)")
        print(f"gateway  same route via gateway    {proxied:8.0f} req/s   ratio {ratio:.2f}")
    finally:
        for p in procs:
            p.terminate()
            p.wait()


async def bench_outbox(infra: Infra, env: dict[str, str]) -> None:
    settings = InfraSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        kafka_enable_idempotence=not infra.embedded_kafka,
    )
    await ensure_topics(settings, ["order.events"])
    producer = EventProducer(settings)
    await producer.start()
    events = [
        Event(type="order.probe_sent", aggregate_id=str(i % 500), payload={"i": i})
        for i in range(EVENTS)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(producer.publish(e) for e in events))
    raw = EVENTS / (time.perf_counter() - started)
    await producer.stop()

    engine = create_engine(env["ORDER_DATABASE_URL"], pool_size=2)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            insert(OutboxRow),
            [
                {
                    "event_id": uuid.uuid4(),
                    "topic": "order.events",
                    "type": "order.probe_sent",
                    "aggregate_id": str(i % 500),
                    "payload": {"i": i},
                    "occurred_at": events[i].occurred_at,
                }
                for i in range(EVENTS)
            ],
        )
    relay = spawn(["-m", "shared.relay", "order"], {**env, "ORDER_LOG_LEVEL": "WARNING"})
    started = time.perf_counter()
    try:
        while True:
            async with AsyncSession(engine) as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.published_at.is_(None))
                )
            if not left:
                break
            await asyncio.sleep(0.05)
        relayed = EVENTS / (time.perf_counter() - started)
    finally:
        relay.terminate()
        relay.wait()
        await engine.dispose()
    print(f"outbox   bare producer (no DB)         {raw:8.0f} ev/s    (baseline 1.00)")
    print(
        f"outbox   relay, commit to marked       {relayed:8.0f} ev/s    ratio {relayed / raw:.2f}"
    )


async def main() -> None:
    configure_logging("bench", "WARNING", json=False)
    with tempfile.TemporaryDirectory(prefix="minimall-bench-") as data_dir:
        infra = start_infra(Path(data_dir))
        try:
            await create_databases(infra, [database_name("order", PREFIX)])
            await asyncio.to_thread(migrate, infra, ("order",), PREFIX)
            env = service_env(infra, "order", db_prefix=PREFIX, http_port=free_port())
            await bench_gateway(infra, env)
            await bench_outbox(infra, env)
        finally:
            infra.stop()
