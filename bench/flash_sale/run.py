"""Flash sale through the gateway, and the naive design measured in the same run.

1. The race: ``BENCH_FLASH_MEMBERS`` (5,000) distinct members, each with a member token and
   a purchase token, send one purchase each through the gateway (JWT, rate limits per
   member and per IP) to marketing's fast path, over 64 keep-alive connections, for 100
   units. Printed: requests/s, p50 and p99 of the purchase call, units sold (must be 100),
   oversold (0), duplicate orders per member (0), and the time from the first purchase
   until every accepted ticket is final (``ordered``: the order exists).
2. The naive design: the same purchase as one PostgreSQL transaction on a hot row
   (``UPDATE … SET stock = stock - 1 WHERE stock > 0`` and the order row), (a) served by
   ``naive_app`` behind the same gateway (same rule shape, members, load generator and
   connections) — the comparison the target is stated against — and (b) straight at
   PostgreSQL over 64 connections (no HTTP at all, which flatters it); each with enough
   stock that every attempt sells (its ceiling) and as the same 5,000-for-100 race.
3. Scale-out: orders made per second by 1, 2 and 3 order flash-sale consumer processes
   sharing the topic's 6 partitions, each round a new consumer group on a backlog of
   ``BENCH_FLASH_SCALE_UNITS`` (8,000) intents already in Kafka, timed from the first order
   to the last, with the CPU of the machine and of each process meanwhile and what caps the
   rate (``BENCH_FLASH_SCALE=0`` skips it).

Bench-only settings: every limit except the flash-sale class per member is raised (all
the traffic comes from 127.0.0.1, so the per-IP limits would refuse a real crowd), and
logs are at WARNING. Absolute numbers drift on a shared 2-core machine; the ratio is what
to compare.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from devstack.infra import SERVICES, Infra, free_port, start_infra
from devstack.stack import create_databases, migrate, peer_urls, service_env
from gateway.settings import DEFAULT_ROUTES, DEFAULT_RULES, RouteRule
from jwt.algorithms import OKPAlgorithm
from shared.events import topic_for

from bench.flash_sale import loadgen, naive_app
from bench.wrk import GRANIAN, wait_http

MEMBERS = int(os.environ.get("BENCH_FLASH_MEMBERS", "5000"))
UNITS = 100
CONNECTIONS = 64
MARKETING_WORKERS = int(os.environ.get("BENCH_FLASH_MARKETING_WORKERS", "2"))
GATEWAY_WORKERS = int(os.environ.get("BENCH_GATEWAY_WORKERS", "1"))
# marketing's HTTP server (and the naive app's): uvicorn as in production; granian to compare
# (measured: granian spent ~40% more CPU per purchase on this small-answer path)
MARKETING_SERVER = os.environ.get("BENCH_FLASH_MARKETING_SERVER", "uvicorn")
NAIVE_PATH = "/api/v1/naive/flash-sales/{sale}/purchase"
FLASH_CONSUMERS = 2
SCALE = os.environ.get("BENCH_FLASH_SCALE", "1") != "0"
SCALE_UNITS = int(os.environ.get("BENCH_FLASH_SCALE_UNITS", "8000"))
SCALE_CONSUMERS = (1, 2, 3)
PARTITIONS = 6
INTENTS_TOPIC = topic_for("marketing.flash_sale_purchased")
STAFF = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "admin"}
UVICORN = [
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "--no-access-log",
    "--log-level",
    "warning",
]


class Stack:
    def __init__(self, infra: Infra, tmp: Path) -> None:
        self.infra = infra
        self.tmp = tmp
        self.ports = {s: free_port() for s in SERVICES}
        self.gateway_port = free_port()
        self.naive_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.key = Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex[:8]

    def env(self, service: str) -> dict[str, str]:
        p = service.upper()
        return {
            **os.environ,
            **service_env(self.infra, service, http_port=self.ports[service]),
            **peer_urls(service, self.ports),
            f"{p}_LOG_LEVEL": "WARNING",
            f"{p}_KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            f"{p}_OUTBOX_POLL_INTERVAL_S": "0.05",
            "MARKETING_FLASH_SALE_TOKEN_TTL_S": "600",
            "MARKETING_FLASH_SALE_LOOP_INTERVAL_S": "0.2",
            "MARKETING_FLASH_SALE_RECONCILE_INTERVAL_S": "5",
        }

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        process = self.procs.pop(name)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start_flash_consumer(self, i: int, group: str | None = None) -> None:
        env = self.env("order")
        if group:
            env["ORDER_FLASH_SALE_GROUP_ID"] = group
        self.spawn(f"order-flash-{i}", [sys.executable, "-m", "order.flash_sales"], env)

    def http_server(self, app: str, port: int) -> list[str]:
        """Marketing's server (and the naive app's): MARKETING_SERVER, MARKETING_WORKERS."""
        workers = ["--workers", str(MARKETING_WORKERS)]
        if MARKETING_SERVER == "granian":
            return [*GRANIAN, "--port", str(port), *workers, app]
        return [*UVICORN, app, "--port", str(port), *workers]

    def start(self) -> None:
        for service in ("catalog", "order"):
            self.spawn(
                f"{service}-http",
                [*UVICORN, f"{service}.main:create_app", "--port", str(self.ports[service])],
                self.env(service),
            )
        self.spawn(
            "marketing-http",
            self.http_server("marketing.main:create_app", self.ports["marketing"]),
            self.env("marketing"),
        )
        # The naive design behind the same gateway (its tables are made before each run).
        self.spawn(
            "naive",
            self.http_server("bench.flash_sale.naive_app:create_app", self.naive_port),
            {
                **os.environ,
                "BENCH_NAIVE_DSN": self.naive_dsn,
                "BENCH_NAIVE_POOL": str(CONNECTIONS // MARKETING_WORKERS),
            },
        )
        for i in range(FLASH_CONSUMERS):
            self.start_flash_consumer(i)
        self.spawn(
            "order-relay", [sys.executable, "-m", "shared.relay", "order"], self.env("order")
        )
        self.spawn(
            "marketing-consumer",
            [sys.executable, "-m", "marketing.consumer"],
            self.env("marketing"),
        )
        self.spawn(
            "marketing-relay",
            [sys.executable, "-m", "shared.relay", "marketing"],
            self.env("marketing"),
        )
        jwk = {
            **json.loads(OKPAlgorithm.to_jwk(self.key.public_key())),
            "kid": self.kid,
            "alg": "EdDSA",
        }
        jwks_file = self.tmp / "jwks.json"
        jwks_file.write_text(json.dumps({"keys": [jwk]}))
        member_port = self.ports["member"]
        self.spawn(
            "jwks",
            [*UVICORN, "bench.gateway.hello:create_app", "--port", str(member_port)],
            {**os.environ, "BENCH_JWKS_FILE": str(jwks_file)},
        )
        # The naive purchase gets the rule shape of ours: member token, class flash_sale.
        naive_rule = RouteRule(
            path=NAIVE_PATH.replace("{sale}", "*"), methods=["POST"], rate_class="flash_sale"
        )
        rules = [r.model_dump() for r in [naive_rule, *DEFAULT_RULES]]
        upstreams = {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}
        upstreams["naive"] = f"http://127.0.0.1:{self.naive_port}"
        huge = {"limit": 1_000_000_000, "period_s": 60}
        limits = {c: huge for c in ("default", "login", "notify", "open", "ip", "flash_sale_ip")}
        limits["flash_sale"] = {"limit": 5, "period_s": 10}  # per member, as in production
        self.spawn(
            "gateway",
            [*GRANIAN, "--port", str(self.gateway_port), "--workers", str(GATEWAY_WORKERS),
             "gateway.main:create_app"],
            {
                **os.environ,
                "GATEWAY_UPSTREAMS": json.dumps(upstreams),
                "GATEWAY_ROUTES": json.dumps({**DEFAULT_ROUTES, "naive": "naive"}),
                "GATEWAY_RULES": json.dumps(rules),
                "GATEWAY_REDIS_URL": self.infra.redis_db_url(0),
                "GATEWAY_RATE_LIMITS": json.dumps(limits),
                "GATEWAY_LOG_LEVEL": "WARNING",
            },
        )  # fmt: skip
        for service in ("catalog", "order", "marketing"):
            wait_http(f"{self.url(service)}/healthz")
        wait_http(f"http://127.0.0.1:{member_port}/readyz")
        wait_http(f"http://127.0.0.1:{self.gateway_port}/healthz")
        wait_http(f"http://127.0.0.1:{self.naive_port}/healthz")

    @property
    def naive_dsn(self) -> str:
        return f"{self.infra.postgres_url}/marketing"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far per process group (children included: uvicorn and granian
        workers), to show where a purchase's CPU goes on a machine shared with others."""
        used: dict[str, float] = {}
        for name, process in self.procs.items():
            group = name.split("-")[0] if name.startswith("order-flash") else name
            try:
                parent = psutil.Process(process.pid)
                total = 0.0
                for p in [parent, *parent.children(recursive=True)]:
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
            used[group] = used.get(group, 0.0) + total
        return used

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def mint(self, member_id: str) -> str:
        now = int(time.time())
        return jwt.encode(
            {"sub": member_id, "aud": "minimall-api", "iss": "minimall-member",
             "iat": now, "exp": now + 3600},
            self.key,
            algorithm="EdDSA",
            headers={"kid": self.kid},
        )  # fmt: skip

    def close(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def make_sale(stack: Stack, http: httpx.AsyncClient, units: int) -> dict[str, Any]:
    category = await http.post(
        f"{stack.url('catalog')}/admin/v1/catalog/categories", headers=STAFF,
        json={"name": f"秒杀{uuid.uuid4().hex[:6]}"},
    )  # fmt: skip
    product = await http.post(
        f"{stack.url('catalog')}/admin/v1/catalog/products",
        headers=STAFF,
        json={
            "name": f"秒杀商品{uuid.uuid4().hex[:6]}",
            "category_id": category.json()["id"],
            "status": "on_sale",
            "specs": [{"name": "颜色", "values": ["红"]}],
            "skus": [{"specs": {"颜色": "红"}, "price_fen": 19900, "stock": units + 100}],
        },
    )
    assert product.status_code == 201, product.text
    now = datetime.now(UTC)
    sale = await http.post(
        f"{stack.url('marketing')}/admin/v1/marketing/flash-sales",
        headers=STAFF,
        json={
            "name": "bench",
            "sku_id": product.json()["skus"][0]["id"],
            "price_fen": 990,
            "total_units": units,
            "per_member_limit": 1,
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "payment_window_s": 900,
        },
    )
    assert sale.status_code == 201 and sale.json()["loaded_at"], sale.text
    body: dict[str, Any] = sale.json()
    return body


async def race(stack: Stack) -> dict[str, Any]:
    port = stack.gateway_port
    async with httpx.AsyncClient(timeout=60) as http:
        sale = await make_sale(stack, http, UNITS)
    members = [str(uuid.uuid4()) for _ in range(MEMBERS)]
    auth = {m: f"Bearer {stack.mint(m)}" for m in members}
    token_path = f"/api/v1/marketing/flash-sales/{sale['id']}/token"
    fetched: dict[str, str] = {}
    for _ in range(5):  # setup, not measured: fetch again what a busy moment refused
        wanted = [m for m in members if m not in fetched]
        if not wanted:
            break
        token_replies, _ = await loadgen.run(
            "127.0.0.1", port,
            [loadgen.build_request("POST", token_path, {"Authorization": auth[m]}) for m in wanted],
            CONNECTIONS,
        )  # fmt: skip
        for m, r in zip(wanted, token_replies, strict=True):
            if r.status == 200:
                fetched[m] = json.loads(r.body)["token"]
            else:
                print(f"flash    token fetch answered {r.status}: {r.body[:200]!r}")
    tokens = [fetched[m] for m in members]
    body = json.dumps({"sku_id": sale["sku_id"], "quantity": 1}).encode()
    purchase_path = f"/api/v1/marketing/flash-sales/{sale['id']}/purchase"
    requests = [
        loadgen.build_request(
            "POST", purchase_path,
            {"Authorization": auth[m], "X-Purchase-Token": t, "Content-Type": "application/json"},
            body,
        )
        for m, t in zip(members, tokens, strict=True)
    ]  # fmt: skip
    cpu_before, own_before = stack.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    replies, elapsed = await loadgen.run("127.0.0.1", port, requests, CONNECTIONS)
    cpu_after, own_after = stack.cpu_seconds(), time.process_time()
    cpu_ms = {
        k: (cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / len(requests)
        for k in cpu_after
        if cpu_after[k] - cpu_before.get(k, 0.0) > 0.01
    }
    cpu_ms["load generator"] = (own_after - own_before) * 1000 / len(requests)
    accepted = {
        json.loads(r.body)["ticket"]: m
        for r, m in zip(replies, members, strict=True)
        if r.status == 202
    }
    statuses: dict[int, int] = {}
    for r in replies:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    # Until every accepted ticket is final, polled through the gateway.
    pending = dict(accepted)
    while pending and time.perf_counter() - started < 300:
        polls = [
            loadgen.build_request("GET", f"/api/v1/marketing/flash-sales/tickets/{t}",
                                  {"Authorization": auth[m]})
            for t, m in pending.items()
        ]  # fmt: skip
        answers, _ = await loadgen.run("127.0.0.1", port, polls, 8)
        for t, a in zip(list(pending), answers, strict=True):
            if a.status == 200 and json.loads(a.body)["status"] in ("ordered", "rejected"):
                del pending[t]
        if pending:
            await asyncio.sleep(0.05)
    final_s = time.perf_counter() - started
    latencies = [r.latency_s for r in replies]
    orders = await _orders(stack, sale["id"])
    per_member: dict[str, int] = {}
    for _, member in orders:
        per_member[member] = per_member.get(member, 0) + 1
    return {
        "rps": len(replies) / elapsed,
        "p50_ms": loadgen.percentile(latencies, 0.50) * 1000,
        "p99_ms": loadgen.percentile(latencies, 0.99) * 1000,
        "statuses": statuses,
        "sold": len(accepted),
        "orders": len(orders),
        "oversold": max(len(orders) - UNITS, 0) + max(len(accepted) - UNITS, 0),
        "duplicates": sum(n - 1 for n in per_member.values() if n > 1),
        "unfinished": len(pending),
        "final_s": final_s,
        "cpu_ms": cpu_ms,
        "auth": [auth[m] for m in members],
        "sku_id": sale["sku_id"],
    }


async def _orders(stack: Stack, sale_id: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(f"{stack.infra.postgres_url}/order")
    try:
        rows = await conn.fetch(
            "SELECT activity_ref, member_id::text FROM orders"
            " WHERE activity_kind = 'flash_sale' AND activity_ref LIKE $1",
            f"{uuid.UUID(sale_id).hex}-%",
        )
        return [(r[0], r[1]) for r in rows]
    finally:
        await conn.close()


async def naive_gateway(stack: Stack, auth: list[str], sku_id: str, stock: int) -> dict[str, Any]:
    """The naive purchase (``naive_app``: one transaction on one hot row) through the same
    gateway (JWT, the flash-sale rate-limit rule), from the same load generator over the same
    connections, by the same members (their tokens already verified, as in our race)."""
    await naive_app.setup(stack.naive_dsn, stock)
    body = json.dumps({"sku_id": sku_id, "quantity": 1}).encode()
    path = NAIVE_PATH.format(sale=uuid.uuid4())
    headers = {"Content-Type": "application/json"}
    requests = [
        loadgen.build_request("POST", path, {"Authorization": a, **headers}, body) for a in auth
    ]
    cpu_before = stack.cpu_seconds()
    replies, elapsed = await loadgen.run("127.0.0.1", stack.gateway_port, requests, CONNECTIONS)
    cpu_after = stack.cpu_seconds()
    statuses: dict[int, int] = {}
    for r in replies:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    conn = await asyncpg.connect(stack.naive_dsn)
    try:
        sold = await conn.fetchval("SELECT count(*) FROM naive_orders")
        await conn.execute("DROP TABLE naive_stock, naive_orders")
    finally:
        await conn.close()
    assert sold == min(stock, len(auth)) == statuses.get(202, 0), (sold, statuses)
    latencies = [r.latency_s for r in replies]
    return {
        "rps": len(replies) / elapsed,
        "p50_ms": loadgen.percentile(latencies, 0.50) * 1000,
        "p99_ms": loadgen.percentile(latencies, 0.99) * 1000,
        "statuses": statuses,
        "cpu_ms": {
            k: (cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / len(requests)
            for k in ("gateway", "naive")
        },
    }


async def naive(infra: Infra, stock: int) -> float:
    """Attempts/s of the naive purchase straight at PostgreSQL (no HTTP, no gateway: its raw
    ceiling): one transaction on one hot row, 64 connections."""
    url = f"{infra.postgres_url}/marketing"
    await naive_app.setup(url, stock)
    setup = await asyncpg.connect(url)
    pool = await asyncpg.create_pool(url, min_size=CONNECTIONS, max_size=CONNECTIONS)
    sku_id = uuid.uuid4()
    attempts = iter(range(MEMBERS))

    async def worker() -> None:
        async with pool.acquire() as conn:
            for _ in attempts:
                async with conn.transaction():
                    left = await conn.fetchval(
                        "UPDATE naive_stock SET stock = stock - 1 WHERE id = 1 AND stock > 0"
                        " RETURNING stock"
                    )
                    if left is not None:
                        await conn.execute(
                            "INSERT INTO naive_orders (member_id, sku_id) VALUES ($1, $2)",
                            uuid.uuid4(),
                            sku_id,
                        )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    sold = await setup.fetchval("SELECT count(*) FROM naive_orders")
    assert sold == min(stock, MEMBERS), sold
    await pool.close()
    await setup.execute("DROP TABLE naive_stock, naive_orders")
    await setup.close()
    return MEMBERS / elapsed


async def _fill(stack: Stack, http: httpx.AsyncClient, sale: dict[str, Any], n: int) -> None:
    """``n`` members buy one unit each, straight at marketing."""
    base = f"{stack.url('marketing')}/api/v1/marketing/flash-sales/{sale['id']}"
    gate = asyncio.Semaphore(64)

    async def buy(member: str) -> None:
        who = {"X-Auth-Member-Id": member}
        async with gate:
            t = await http.post(f"{base}/token", headers=who)
            r = await http.post(
                f"{base}/purchase",
                headers={**who, "X-Purchase-Token": t.json()["token"]},
                json={"sku_id": sale["sku_id"], "quantity": 1},
            )
            assert r.status_code == 202, r.text

    await asyncio.gather(*(buy(str(uuid.uuid4())) for _ in range(n)))


def _stop_flash_consumers(stack: Stack) -> tuple[float, int]:
    """SIGTERM every order flash-sale consumer at once; (seconds until all exited, killed)."""
    names = [n for n in stack.procs if n.startswith("order-flash-")]
    started, killed = time.perf_counter(), 0
    for name in names:
        stack.procs[name].terminate()
    for name in names:
        process = stack.procs.pop(name)
        try:
            process.wait(max(0.1, 20 - (time.perf_counter() - started)))
        except subprocess.TimeoutExpired:  # SIGTERM ignored: a consumer must never do that
            process.kill()
            process.wait()
            killed += 1
    return time.perf_counter() - started, killed


async def _in_kafka(stack: Stack, sale_id: str, units: int) -> None:
    """Until every accepted purchase of the sale is a ticket and published to Kafka."""
    conn = await asyncpg.connect(f"{stack.infra.postgres_url}/marketing")
    try:
        for _ in range(1200):
            tickets = await conn.fetchval(
                "SELECT count(*) FROM flash_sale_tickets WHERE sale_id = $1", uuid.UUID(sale_id)
            )
            unpublished = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            if tickets >= units and not unpublished:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"intents not in Kafka: {tickets} tickets, {unpublished} unpublished")
    finally:
        await conn.close()


def _busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0), sum(t)


def _cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
        except psutil.Error:  # exited
            continue
        total += times.user + times.system
    return total


async def _group_at_end(stack: Stack, group: str) -> None:
    """Create consumer group ``group`` positioned at the end of the intents' topic: the
    round's consumers then read exactly the intents published after this."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.infra.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(INTENTS_TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: ends[tp] for tp in partitions})
    finally:
        await consumer.stop()


async def _drain(stack: Stack, consumers: int, sale_id: str, group: str) -> dict[str, Any]:
    """Start ``consumers`` processes on a backlog of SCALE_UNITS intents; measure until every
    one is an order: orders/s from the first order to the last, and the CPU meanwhile."""
    pattern = f"{uuid.UUID(sale_id).hex}-%"
    launched = time.perf_counter()
    for i in range(consumers):
        stack.start_flash_consumer(i, group)
    procs = [psutil.Process(stack.procs[f"order-flash-{i}"].pid) for i in range(consumers)]
    conn = await asyncpg.connect(f"{stack.infra.postgres_url}/order")
    made, first = 0, None
    try:
        while made < SCALE_UNITS and time.perf_counter() - launched < 300:
            made = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE activity_kind = 'flash_sale'"
                " AND activity_ref LIKE $1",
                pattern,
            )
            if made and first is None:  # the first batch is in: CPU from here on
                first = (time.perf_counter(), _busy_seconds(), _cpu_of(procs), stack.cpu_seconds())
            if made < SCALE_UNITS:
                await asyncio.sleep(0.05)
        last = (time.perf_counter(), _busy_seconds(), _cpu_of(procs), stack.cpu_seconds())
        batches = await conn.fetch(
            "SELECT created_at, count(*) AS n FROM orders WHERE activity_kind = 'flash_sale'"
            " AND activity_ref LIKE $1 GROUP BY created_at ORDER BY created_at",
            pattern,
        )
    finally:
        await conn.close()
    if made < SCALE_UNITS or first is None or len(batches) < 2:
        return {"consumers": consumers, "made": made}
    # A consumer stamps a batch's orders with one time: the rate counts the orders made
    # after the first batch over the time from the first batch to the last.
    span = (batches[-1]["created_at"] - batches[0]["created_at"]).total_seconds()
    wall = max(last[0] - first[0], 1e-3)
    busy = (last[1][0] - first[1][0]) / max(last[1][1] - first[1][1], 1e-9)
    cores = {k: (v - first[3].get(k, 0.0)) / wall for k, v in last[3].items()}
    cores = {k: v for k, v in cores.items() if v >= 0.05}
    cores["rest (PostgreSQL, other work)"] = busy * (psutil.cpu_count() or 1) - sum(cores.values())
    return {
        "consumers": consumers,
        "made": made,
        "rate": (made - batches[0]["n"]) / max(span, 1e-3),
        "span_s": span,
        "batches": len(batches),
        "join_s": first[0] - launched,
        "machine_busy": busy,
        "consumer_cores": (last[2] - first[2]) / wall,
        "cores": cores,
    }


async def scale_out(stack: Stack) -> list[tuple[int, float]]:
    """Orders/s of 1, 2 and 3 order flash-sale consumers on a backlog: each round stops the
    consumers, buys SCALE_UNITS units (their intents pile up in Kafka), then starts that many
    consumers at once and times the orders from the first to the last. Prints, per round,
    the CPU of the machine and of the consumers meanwhile and what caps the rate."""
    results = []
    cores = psutil.cpu_count() or 1
    for consumers in SCALE_CONSUMERS:
        stop_s, killed = _stop_flash_consumers(stack)
        # Each round's consumers form a new group, positioned before the round's intents. On
        # Tansu, the dev broker, a group whose members all left at once can stay stuck with a
        # departed member as the next generation's leader (see docs/flash-sales.md).
        group = f"order-flash-sale-bench-{consumers}-{uuid.uuid4().hex[:8]}"
        await _group_at_end(stack, group)
        async with httpx.AsyncClient(timeout=300) as http:  # loading units is slow when busy
            sale = await make_sale(stack, http, SCALE_UNITS)
            await _fill(stack, http, sale, SCALE_UNITS)
        await _in_kafka(stack, sale["id"], SCALE_UNITS)
        r = await _drain(stack, consumers, sale["id"], group)
        stopped = f"previous consumers stopped in {stop_s:.1f} s" + (
            f", {killed} KILLED (ignored SIGTERM)" if killed else ""
        )
        if "rate" not in r:
            print(
                f"flash    scale-out: {consumers} consumer(s) made {r['made']} of"
                f" {SCALE_UNITS} orders in 300 s; {stopped}"
            )
            continue
        if consumers >= PARTITIONS:
            cap = f"partitions ({PARTITIONS}: more consumers sit idle)"
        elif r["machine_busy"] >= 0.85:
            cap = f"cores (the machine's {cores} are busy: PostgreSQL, relays, marketing too)"
        else:
            cap = "neither: each consumer waits on PostgreSQL and Kafka round trips"
        print(
            f"flash    scale-out: {consumers} consumer(s) {r['rate']:7.0f} orders/s"
            f"  ({r['made']} orders, {r['batches']} batches, {r['span_s']:.2f} s first to last;"
            f" machine CPU {r['machine_busy']:.0%} of {cores} cores, consumers"
            f" {r['consumer_cores']:.2f} cores; joined after {r['join_s']:.1f} s; {stopped})"
            f"  cap: {cap}"
        )
        used = sorted(r["cores"].items(), key=lambda kv: -kv[1])
        print(f"flash    scale-out:   cores used: {', '.join(f'{k} {v:.2f}' for k, v in used)}")
        results.append((consumers, float(r["rate"])))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="minimall-flashbench-") as tmp_dir:
        tmp = Path(tmp_dir)
        infra = start_infra(tmp / "infra")
        stack = Stack(infra, tmp)
        try:
            asyncio.run(create_databases(infra, list(SERVICES)))
            migrate(infra, ("catalog", "order", "marketing"))
            stack.start()
            ours = asyncio.run(race(stack))
            auth, sku = ours["auth"], ours["sku_id"]
            gw_ceiling = asyncio.run(naive_gateway(stack, auth, sku, MEMBERS))
            gw_race = asyncio.run(naive_gateway(stack, auth, sku, UNITS))
            ceiling = asyncio.run(naive(infra, MEMBERS))
            naive_race = asyncio.run(naive(infra, UNITS))
            scaled = asyncio.run(scale_out(stack)) if SCALE else []
        finally:
            stack.close()
            infra.stop()
    setup = (
        f"{MEMBERS} members, {UNITS} units, {CONNECTIONS} connections, gateway {GATEWAY_WORKERS}"
        f" worker(s), marketing {MARKETING_WORKERS} {MARKETING_SERVER} worker(s),"
        f" {FLASH_CONSUMERS} order consumers"
    )
    print(f"flash    {setup}")
    print(
        f"flash    purchase through the gateway  {ours['rps']:8.0f} req/s"
        f"  p50 {ours['p50_ms']:6.2f} ms  p99 {ours['p99_ms']:6.2f} ms   answers {ours['statuses']}"
    )
    print(
        f"flash    units sold {ours['sold']} (orders {ours['orders']}),"
        f" oversold {ours['oversold']},"
        f" duplicate orders per member {ours['duplicates']}, every ticket final after"
        f" {ours['final_s']:.2f} s (unfinished {ours['unfinished']})"
    )
    naive_runs = (("every attempt selling (its ceiling)", gw_ceiling), ("the same race", gw_race))
    for label, n in naive_runs:
        print(
            f"flash    naive through the gateway, {label:<36}{n['rps']:8.0f} req/s"
            f"  p50 {n['p50_ms']:6.2f} ms  p99 {n['p99_ms']:6.2f} ms   answers {n['statuses']}"
            f"  (CPU ms per purchase: gateway {n['cpu_ms']['gateway']:.2f},"
            f" naive app {n['cpu_ms']['naive']:.2f})"
        )
    print(
        f"flash    naive straight at PostgreSQL (asyncpg, no HTTP), every attempt selling"
        f" {ceiling:8.0f} attempts/s;  the same race {naive_race:8.0f} attempts/s"
    )
    print(
        f"flash    throughput x{ours['rps'] / gw_ceiling['rps']:.2f} the naive design's ceiling"
        f" through the same gateway (target >= 5)"
        f" {'met' if ours['rps'] >= 5 * gw_ceiling['rps'] else 'NOT met'};"
        f" x{ours['rps'] / gw_race['rps']:.2f} the same race through it;"
        f" x{ours['rps'] / ceiling:.2f} its raw PostgreSQL ceiling (no HTTP, no gateway)"
    )
    print(
        f"flash    purchase p99 {ours['p99_ms']:.2f} ms (target < 50 ms)"
        f" {'met' if ours['p99_ms'] < 50 else 'NOT met'}"
    )
    cpu = ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(ours["cpu_ms"].items(), key=lambda kv: -kv[1])
    )
    print(f"flash    CPU ms per purchase during the race: {cpu}")
    for consumers, rate in scaled:
        print(f"flash    scale-out: {consumers} order consumer(s) {rate:7.0f} orders/s")
    if ours["sold"] != UNITS or ours["oversold"] or ours["duplicates"] or ours["unfinished"]:
        raise SystemExit("flash    FAILED: the sale was not exact")
