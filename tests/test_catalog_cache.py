"""The product detail cache across instances: two catalog HTTP processes, the relay and the
consumer, real PostgreSQL, Redis and Kafka. A change made through one instance reaches the
cache of both by ``catalog.product_changed`` (outbox → Kafka → consumer → Redis pub/sub)."""

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import Processes, eventually
from tests.test_catalog_api import STAFF, make_product, start_catalog

# Long enough that only an invalidation can explain a fresh answer during the test.
LONG_CACHE = {"CATALOG_PRODUCT_CACHE_L1_TTL_S": "600", "CATALOG_PRODUCT_CACHE_L2_TTL_S": "600"}


async def events_handled(engine: AsyncEngine, product_id: str) -> bool:
    async with engine.connect() as conn:
        pending = await conn.scalar(
            text(
                "SELECT count(*) FROM outbox o WHERE o.aggregate_id = :id AND NOT EXISTS"
                " (SELECT 1 FROM inbox i WHERE i.event_id = o.event_id)"
            ),
            {"id": product_id},
        )
    return bool(pending == 0)


async def detail_name(client: httpx.AsyncClient, product_id: str) -> str:
    response = await client.get(f"/api/v1/catalog/products/{product_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["name"])


async def test_a_change_invalidates_the_cache_of_two_instances(
    processes: Processes, engines: dict[str, AsyncEngine]
) -> None:
    engine = engines["catalog"]
    processes.start("catalog-relay-cache", "-m", "shared.relay", "catalog")
    processes.start("catalog-consumer-cache", "-m", "catalog.consumer")
    first = start_catalog(processes, "catalog-http-a", LONG_CACHE)
    second = start_catalog(processes, "catalog-http-b", LONG_CACHE)
    async with (
        httpx.AsyncClient(base_url=first, timeout=10) as a,
        httpx.AsyncClient(base_url=second, timeout=10) as b,
    ):
        product = await make_product(a, name=f"缓存前{uuid.uuid4().hex[:4]}")
        pid, original = product["id"], product["name"]
        await eventually(lambda: events_handled(engine, pid), timeout=60)
        assert await detail_name(a, pid) == original
        assert await detail_name(b, pid) == original

        # Behind the service's back (no event): both instances keep answering from cache.
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE products SET name = 'DB直改' WHERE id = :id"), {"id": pid}
            )
        assert await detail_name(a, pid) == original
        assert await detail_name(b, pid) == original

        # Through the service: the event reaches both instances' caches.
        renamed = await a.patch(
            f"/admin/v1/catalog/products/{pid}", json={"name": "缓存后"}, headers=STAFF
        )
        assert renamed.status_code == 200

        async def both_fresh() -> bool:
            return await detail_name(a, pid) == await detail_name(b, pid) == "缓存后"

        await eventually(both_fresh, timeout=60)


async def test_shown_stock_follows_reservations_without_an_event(
    processes: Processes,
) -> None:
    url = start_catalog(processes, "catalog-http-stock", LONG_CACHE)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        product = await make_product(client, name="库存跟随", stock=9, colors=("红",))
        pid, sku = product["id"], product["skus"][0]["id"]

        async def stock() -> int:
            body = (await client.get(f"/api/v1/catalog/products/{pid}")).json()
            return int(body["skus"][0]["stock"])

        assert await stock() == 9
        reserved = await client.post(
            "/internal/v1/catalog/reservations",
            json={"reservation_key": str(uuid.uuid4()), "items": [{"sku_id": sku, "quantity": 4}]},
        )
        assert reserved.status_code == 201

        async def shows_five() -> bool:
            return await stock() == 5

        await eventually(shows_five, timeout=15)  # within STOCK_CACHE_TTL_S (1 s)
