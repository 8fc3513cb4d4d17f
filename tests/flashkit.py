"""Flash-sale test helpers: the processes of the flash-sale path and calls made as the
gateway would forward them (X-Auth-* headers)."""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import _wait_http
from tests.shopkit import STAFF
from tests.support import Processes, eventually

FINAL = {"ordered", "rejected", "sold_out"}


@dataclass
class FlashSuite:
    catalog: str
    order: str
    marketing: str
    procs: Processes
    redis_url: str  # marketing's Redis (with its db)

    @property
    def member(self) -> str:  # shopkit.Shop
        return ""

    @property
    def sim(self) -> str:
        return ""


FAST_ENV = {
    "ORDER_SWEEP_INTERVAL_S": "0.3",
    "MARKETING_FLASH_SALE_LOOP_INTERVAL_S": "0.2",
    "MARKETING_FLASH_SALE_RECONCILE_INTERVAL_S": "1",
    "MARKETING_FLASH_SALE_REQUEUE_AFTER_S": "4",
    "MARKETING_OUTBOX_POLL_INTERVAL_S": "0.05",
    "ORDER_OUTBOX_POLL_INTERVAL_S": "0.05",
}


def start_suite(
    envs: dict[str, dict[str, str]], prefix: str, flash_consumers: int = 1
) -> Iterator[FlashSuite]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    procs = Processes(env={**merged, **FAST_ENV})
    ports = {s: envs[s][f"{s.upper()}_HTTP_PORT"] for s in ("catalog", "order", "marketing")}
    for service, port in ports.items():
        procs.start(
            f"{prefix}-{service}",
            "-m",
            "uvicorn",
            f"{service}.main:create_app",
            "--factory",
            "--port",
            port,
        )
    procs.start(f"{prefix}-order-consumer", "-m", "order.consumer")
    for i in range(flash_consumers):
        procs.start(f"{prefix}-order-flash-{i}", "-m", "order.flash_sales")
    procs.start(f"{prefix}-marketing-consumer", "-m", "marketing.consumer")
    procs.start(f"{prefix}-order-relay", "-m", "shared.relay", "order")
    procs.start(f"{prefix}-marketing-relay", "-m", "shared.relay", "marketing")
    try:
        urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        for url in urls.values():
            _wait_http(f"{url}/healthz", timeout=60)
        yield FlashSuite(
            urls["catalog"],
            urls["order"],
            urls["marketing"],
            procs,
            envs["marketing"]["MARKETING_REDIS_URL"],
        )
    finally:
        procs.stop_all()


def me(member_id: str | None = None) -> dict[str, str]:
    return {"X-Auth-Member-Id": member_id or str(uuid.uuid4())}


async def create_sale(
    http: httpx.AsyncClient,
    suite: FlashSuite,
    sku_id: str,
    units: int,
    *,
    limit: int = 1,
    window_s: int = 900,
    starts_in_s: float = -1,
    lasts_s: float = 600,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    created = await http.post(
        f"{suite.marketing}/admin/v1/marketing/flash-sales",
        headers=STAFF,
        json={
            "name": "秒杀测试",
            "sku_id": sku_id,
            "price_fen": 990,
            "total_units": units,
            "per_member_limit": limit,
            "starts_at": (now + timedelta(seconds=starts_in_s)).isoformat(),
            "ends_at": (now + timedelta(seconds=starts_in_s + lasts_s)).isoformat(),
            "payment_window_s": window_s,
        },
    )
    assert created.status_code == 201, created.text
    sale: dict[str, Any] = created.json()
    return sale


async def token(
    http: httpx.AsyncClient, suite: FlashSuite, sale_id: str, who: dict[str, str]
) -> str:
    got = await http.post(
        f"{suite.marketing}/api/v1/marketing/flash-sales/{sale_id}/token", headers=who
    )
    assert got.status_code == 200, got.text
    return str(got.json()["token"])


async def buy(
    http: httpx.AsyncClient,
    suite: FlashSuite,
    sale: dict[str, Any],
    who: dict[str, str],
    purchase_token: str | None,
    **extra: Any,
) -> httpx.Response:
    body = {"sku_id": sale["sku_id"], "quantity": 1, **extra}
    headers = dict(who)
    if purchase_token is not None:
        headers["X-Purchase-Token"] = purchase_token
    return await http.post(
        f"{suite.marketing}/api/v1/marketing/flash-sales/{sale['id']}/purchase",
        json=body,
        headers=headers,
    )


async def ticket(
    http: httpx.AsyncClient, suite: FlashSuite, ticket_id: str, who: dict[str, str]
) -> dict[str, Any]:
    got = await http.get(
        f"{suite.marketing}/api/v1/marketing/flash-sales/tickets/{ticket_id}", headers=who
    )
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def admin_sale(http: httpx.AsyncClient, suite: FlashSuite, sale_id: str) -> dict[str, Any]:
    got = await http.get(
        f"{suite.marketing}/admin/v1/marketing/flash-sales/{sale_id}", headers=STAFF
    )
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def all_final(
    http: httpx.AsyncClient,
    suite: FlashSuite,
    tickets: dict[str, dict[str, str]],
    timeout: float = 60,
) -> dict[str, dict[str, Any]]:
    """Poll every ticket until each is final; their last states."""
    states: dict[str, dict[str, Any]] = {}

    async def probe() -> bool:
        pending = [t for t in tickets if states.get(t, {}).get("status") not in FINAL]
        got = await asyncio.gather(*(ticket(http, suite, t, tickets[t]) for t in pending))
        for t, state in zip(pending, got, strict=True):
            states[t] = state
        return all(s["status"] in FINAL for s in states.values()) and len(states) == len(tickets)

    await eventually(probe, timeout=timeout, interval=0.3)
    return states


async def orders_of_sale(engine: AsyncEngine, sale_id: str) -> list[tuple[str, str, str]]:
    """(ticket, member_id, status) of every order made from the sale's tickets."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT activity_ref, member_id::text, status FROM orders"
                " WHERE activity_kind = 'flash_sale' AND activity_ref LIKE :p"
            ),
            {"p": f"{uuid.UUID(sale_id).hex}-%"},
        )
        return [(r[0], r[1], r[2]) for r in rows]
