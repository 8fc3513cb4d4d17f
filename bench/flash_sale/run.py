"""Flash sale through the gateway, and the naive design measured in the same run.

1. The race: ``BENCH_FLASH_MEMBERS`` (5,000) distinct members, each with a member token and
   a purchase token, send one purchase each through the gateway (JWT, rate limits per
   member and per IP) to marketing's fast path, over 64 keep-alive connections, for 100
   units. Printed: requests/s, p50 and p99 of the purchase call, units sold (must be 100),
   oversold (0), duplicate orders per member (0), and the time from the first purchase
   until every accepted ticket is final (``ordered``: the order exists).
2. The naive design's ceiling: the same purchase as one PostgreSQL transaction on a hot
   row (``UPDATE … SET stock = stock - 1 WHERE stock > 0`` and the order row), 64
   connections, straight to PostgreSQL (no HTTP at all, which flatters it), with enough
   stock that every attempt sells; and the same 5,000-for-100 race on it for reference.
3. Scale-out: orders made per second while a burst of 600 accepted purchases (made far
   faster than orders are) becomes orders, with 1, 2 and 3 order flash-sale consumer
   processes sharing the partitions (``BENCH_FLASH_SCALE=0`` skips it).

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from devstack.infra import SERVICES, Infra, free_port, start_infra
from devstack.stack import create_databases, migrate, peer_urls, service_env
from jwt.algorithms import OKPAlgorithm

from bench.flash_sale import loadgen
from bench.wrk import GRANIAN, wait_http

MEMBERS = int(os.environ.get("BENCH_FLASH_MEMBERS", "5000"))
UNITS = 100
CONNECTIONS = 64
MARKETING_WORKERS = int(os.environ.get("BENCH_FLASH_MARKETING_WORKERS", "2"))
GATEWAY_WORKERS = int(os.environ.get("BENCH_GATEWAY_WORKERS", "1"))
FLASH_CONSUMERS = 2
SCALE = os.environ.get("BENCH_FLASH_SCALE", "1") != "0"
SCALE_UNITS = 600
PARTITIONS = 6
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

    def start_flash_consumer(self, i: int) -> None:
        self.spawn(
            f"order-flash-{i}", [sys.executable, "-m", "order.flash_sales"], self.env("order")
        )

    def start(self) -> None:
        for service in ("catalog", "order", "marketing"):
            workers = ["--workers", str(MARKETING_WORKERS)] if service == "marketing" else []
            self.spawn(
                f"{service}-http",
                [
                    *UVICORN,
                    f"{service}.main:create_app",
                    "--port",
                    str(self.ports[service]),
                    *workers,
                ],
                self.env(service),
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
        huge = {"limit": 1_000_000_000, "period_s": 60}
        limits = {c: huge for c in ("default", "login", "notify", "open", "ip", "flash_sale_ip")}
        limits["flash_sale"] = {"limit": 5, "period_s": 10}  # per member, as in production
        self.spawn(
            "gateway",
            [*GRANIAN, "--port", str(self.gateway_port), "--workers", str(GATEWAY_WORKERS),
             "gateway.main:create_app"],
            {
                **os.environ,
                "GATEWAY_UPSTREAMS": json.dumps(
                    {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}
                ),
                "GATEWAY_REDIS_URL": self.infra.redis_db_url(0),
                "GATEWAY_RATE_LIMITS": json.dumps(limits),
                "GATEWAY_LOG_LEVEL": "WARNING",
            },
        )  # fmt: skip
        for service in ("catalog", "order", "marketing"):
            wait_http(f"{self.url(service)}/healthz")
        wait_http(f"http://127.0.0.1:{member_port}/readyz")
        wait_http(f"http://127.0.0.1:{self.gateway_port}/healthz")

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


async def naive(infra: Infra, stock: int) -> float:
    """Attempts/s of the naive purchase: one transaction on one hot row, 64 connections."""
    url = f"{infra.postgres_url}/marketing"
    setup = await asyncpg.connect(url)
    await setup.execute(
        "DROP TABLE IF EXISTS naive_stock, naive_orders;"
        " CREATE TABLE naive_stock (id int PRIMARY KEY, stock int NOT NULL);"
        " CREATE TABLE naive_orders (id bigserial PRIMARY KEY, member_id uuid NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now());"
        f" INSERT INTO naive_stock VALUES (1, {stock});"
    )
    pool = await asyncpg.create_pool(url, min_size=CONNECTIONS, max_size=CONNECTIONS)
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
                            "INSERT INTO naive_orders (member_id) VALUES ($1)", uuid.uuid4()
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
    gate = asyncio.Semaphore(32)

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


async def scale_out(stack: Stack) -> list[tuple[int, float]]:
    """Orders/s while a burst of SCALE_UNITS accepted purchases (made far faster than orders
    are) is turned into orders, with 1, 2 and 3 order flash-sale consumers. Consumers are
    added (never stopped) between rounds, and given time to rebalance."""
    results = []
    for name in [n for n in stack.procs if n.startswith("order-flash-")][1:]:
        stack.stop(name)
    for consumers in (1, 2, 3):
        for i in range(consumers):
            if f"order-flash-{i}" not in stack.procs:
                stack.start_flash_consumer(i)
        await asyncio.sleep(20)  # group rebalance
        async with httpx.AsyncClient(timeout=60) as http:
            sale = await make_sale(stack, http, SCALE_UNITS)
            await _fill(stack, http, sale, SCALE_UNITS)
        conn = await asyncpg.connect(f"{stack.infra.postgres_url}/order")
        try:
            pattern = f"{uuid.UUID(sale['id']).hex}-%"
            for _ in range(1200):
                made = await conn.fetchval(
                    "SELECT count(*) FROM orders WHERE activity_kind = 'flash_sale'"
                    " AND activity_ref LIKE $1",
                    pattern,
                )
                if made >= SCALE_UNITS:
                    break
                await asyncio.sleep(0.1)
            span = await conn.fetchval(
                "SELECT extract(epoch FROM max(created_at) - min(created_at)) FROM orders"
                " WHERE activity_kind = 'flash_sale' AND activity_ref LIKE $1",
                pattern,
            )
        finally:
            await conn.close()
        if made < SCALE_UNITS or span is None:
            print(
                f"flash    scale-out: {consumers} consumer(s) made {made} of {SCALE_UNITS} orders"
            )
            continue
        results.append((consumers, (made - 1) / max(float(span), 1e-3)))
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
            ceiling = asyncio.run(naive(infra, MEMBERS))
            naive_race = asyncio.run(naive(infra, UNITS))
            scaled = asyncio.run(scale_out(stack)) if SCALE else []
        finally:
            stack.close()
            infra.stop()
    setup = (
        f"{MEMBERS} members, {UNITS} units, {CONNECTIONS} connections, gateway {GATEWAY_WORKERS}"
        f" worker(s), marketing {MARKETING_WORKERS} worker(s), {FLASH_CONSUMERS} order consumers"
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
    print(
        f"flash    naive hot-row UPDATE + INSERT, every attempt selling (its ceiling)"
        f" {ceiling:8.0f} attempts/s;  the same 5,000-for-100 race {naive_race:8.0f} attempts/s"
    )
    print(f"flash    throughput x{ours['rps'] / ceiling:.2f} the naive ceiling (target >= 5)")
    cpu = ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(ours["cpu_ms"].items(), key=lambda kv: -kv[1])
    )
    print(f"flash    CPU ms per purchase during the race: {cpu}")
    for consumers, rate in scaled:
        print(f"flash    scale-out: {consumers} order consumer(s) {rate:7.0f} orders/s")
    if ours["sold"] != UNITS or ours["oversold"] or ours["duplicates"] or ours["unfinished"]:
        raise SystemExit("flash    FAILED: the sale was not exact")
