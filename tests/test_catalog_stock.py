"""Stock through the internal API order uses, against real PostgreSQL: no oversell under
concurrency, idempotent reservation keys, the ledger adding up, expiry released exactly
once by two sweepers (two real consumer processes), and order events settling stock."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
from shared.events import Event
from shared.kafka import EventProducer
from shared.settings import InfraSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import test_catalog_api as kit
from tests.support import Processes, eventually
from tests.test_catalog_api import STAFF, error_code, make_product

catalog_url, api = kit.catalog_url, kit.api  # the catalog process and a client (fixtures)

RESERVATIONS = "/internal/v1/catalog/reservations"


async def reserve(
    api: httpx.AsyncClient, key: str, items: list[tuple[str, int]], ttl_s: int | None = None
) -> httpx.Response:
    body: dict[str, Any] = {
        "reservation_key": key,
        "items": [{"sku_id": s, "quantity": q} for s, q in items],
    }
    if ttl_s is not None:
        body["ttl_s"] = ttl_s
    return await api.post(RESERVATIONS, json=body)


async def counters(engine: AsyncEngine, sku_id: str) -> dict[str, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT available, reserved, sold FROM skus WHERE id = :id"), {"id": sku_id}
            )
        ).one()
        ledger = (
            await conn.execute(
                text(
                    "SELECT coalesce(sum(delta_available), 0) a,"
                    " coalesce(sum(delta_reserved), 0) r, coalesce(sum(delta_sold), 0) s,"
                    " coalesce(sum(delta_available) FILTER (WHERE kind = 'adjust'), 0) adj"
                    " FROM stock_ledger WHERE sku_id = :id"
                ),
                {"id": sku_id},
            )
        ).one()
    # The ledger is the history of the counters: its sums are the counters, and what came
    # in (initial + adjustments) is what is available, reserved or sold.
    assert (ledger.a, ledger.r, ledger.s) == (row.available, row.reserved, row.sold)
    assert ledger.adj == row.available + row.reserved + row.sold
    return {"available": row.available, "reserved": row.reserved, "sold": row.sold}


async def test_200_concurrent_reservations_for_50_units_never_oversell(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    product = await make_product(api, name="限量球鞋", stock=50, colors=("白",))
    sku = product["skus"][0]["id"]
    answers = await asyncio.gather(
        *(reserve(api, f"rush-{uuid.uuid4()}", [(sku, 1)]) for _ in range(200))
    )
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 50, 409: 150}, statuses
    refused = next(r for r in answers if r.status_code == 409)
    assert error_code(refused) == "insufficient_stock"
    assert refused.json()["error"]["details"] == [{"sku_id": sku, "requested": 1, "available": 0}]
    assert await counters(engines["catalog"], sku) == {"available": 0, "reserved": 50, "sold": 0}


async def test_the_same_key_reserves_once(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    product = await make_product(api, name="幂等商品", stock=10)
    red, blue = (s["id"] for s in product["skus"])
    key = f"order-{uuid.uuid4()}"
    first, *again = await asyncio.gather(
        *(reserve(api, key, [(red, 2), (blue, 1)]) for _ in range(5))
    )
    codes = sorted([first.status_code, *(r.status_code for r in again)])
    assert codes == [200, 200, 200, 200, 201]
    bodies = {r.text for r in [first, *again]}
    assert len(bodies) == 1  # the same body every time
    assert first.json()["status"] == "reserved"
    assert await counters(engines["catalog"], red) == {"available": 8, "reserved": 2, "sold": 0}
    # Items in another order (or split) are the same request; other items are not.
    same = await reserve(api, key, [(blue, 1), (red, 1), (red, 1)])
    assert same.status_code == 200
    reused = await reserve(api, key, [(red, 3)])
    assert reused.status_code == 409 and error_code(reused) == "reservation_key_reused"


async def test_all_or_nothing_and_unavailable_skus(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    product = await make_product(api, name="全有或全无", stock=3)
    red, blue = (s["id"] for s in product["skus"])
    short = await reserve(api, f"k-{uuid.uuid4()}", [(red, 1), (blue, 5)])
    assert short.status_code == 409
    assert short.json()["error"]["details"] == [{"sku_id": blue, "requested": 5, "available": 3}]
    assert (await counters(engines["catalog"], red))["available"] == 3  # nothing was held
    ghost = str(uuid.uuid4())
    unknown = await reserve(api, f"k-{uuid.uuid4()}", [(red, 1), (ghost, 1)])
    assert unknown.status_code == 422 and error_code(unknown) == "sku_unavailable"
    assert unknown.json()["error"]["details"] == [{"sku_id": ghost}]
    draft = await make_product(api, name="未上架", status="draft")
    not_on_sale = await reserve(api, f"k-{uuid.uuid4()}", [(draft["skus"][0]["id"], 1)])
    assert not_on_sale.status_code == 422 and error_code(not_on_sale) == "sku_unavailable"


async def test_commit_and_release_follow_the_contract(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    product = await make_product(api, name="提交释放", stock=10)
    sku = product["skus"][0]["id"]
    paid, cancelled = f"paid-{uuid.uuid4()}", f"cancel-{uuid.uuid4()}"
    assert (await reserve(api, paid, [(sku, 3)])).status_code == 201
    assert (await reserve(api, cancelled, [(sku, 2)])).status_code == 201
    for _ in range(2):
        done = await api.post(f"{RESERVATIONS}/{paid}/commit")
        assert done.status_code == 200 and done.json() == {"status": "committed"}
        gone = await api.post(f"{RESERVATIONS}/{cancelled}/release")
        assert gone.status_code == 200 and gone.json() == {"status": "released"}
    committed = await api.post(f"{RESERVATIONS}/{paid}/release")
    assert committed.status_code == 409 and error_code(committed) == "reservation_committed"
    inactive = await api.post(f"{RESERVATIONS}/{cancelled}/commit")
    assert inactive.status_code == 409 and error_code(inactive) == "reservation_not_active"
    nothing = await api.post(f"{RESERVATIONS}/never-reserved/release")
    assert nothing.status_code == 200 and nothing.json() == {"status": "released"}
    assert await counters(engines["catalog"], sku) == {"available": 7, "reserved": 0, "sold": 3}
    snapshot = await api.get("/internal/v1/catalog/skus", params={"ids": f"{sku},{uuid.uuid4()}"})
    [item] = snapshot.json()["items"]
    assert (item["sku_id"], item["available"], item["status"]) == (sku, 7, "on_sale")
    assert item["category_path"][-1] == item["category_id"] == product["category_id"]


async def test_adjustments_never_go_below_zero_and_are_idempotent(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    product = await make_product(api, name="盘点商品", stock=5)
    sku = product["skus"][0]["id"]
    url = f"/admin/v1/catalog/skus/{sku}/stock-adjustments"
    headers = {**STAFF, "Idempotency-Key": f"count-{uuid.uuid4()}"}
    for _ in range(2):
        added = await api.post(url, json={"delta": 4, "reason": "盘盈"}, headers=headers)
        assert added.status_code == 201 and added.json()["available"] == 9
    other = await api.post(url, json={"delta": 1, "reason": "x"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "idempotency_key_reused"
    below = await api.post(url, json={"delta": -10, "reason": "盘亏"}, headers=STAFF)
    assert below.status_code == 409 and error_code(below) == "insufficient_stock"
    assert await counters(engines["catalog"], sku) == {"available": 9, "reserved": 0, "sold": 0}
    ledger = await api.get(f"/admin/v1/catalog/skus/{sku}/stock-ledger", headers=STAFF)
    assert [e["reason"] for e in ledger.json()["items"]] == ["盘盈", "initial"]


async def test_expired_reservations_are_released_once_by_two_sweepers(
    api: httpx.AsyncClient, engines: dict[str, AsyncEngine], processes: Processes
) -> None:
    product = await make_product(api, name="过期释放", stock=100)
    sku = product["skus"][0]["id"]
    keys = [f"exp-{uuid.uuid4()}" for _ in range(40)]
    for key in keys:
        assert (await reserve(api, key, [(sku, 2)], ttl_s=1)).status_code == 201
    assert (await counters(engines["catalog"], sku))["reserved"] == 80
    fast = {"CATALOG_RESERVATION_SWEEP_INTERVAL_S": "0.05", "CATALOG_RESERVATION_SWEEP_BATCH": "3"}
    processes.start("catalog-sweeper-a", "-m", "catalog.consumer", env=fast)
    processes.start("catalog-sweeper-b", "-m", "catalog.consumer", env=fast)

    async def all_released() -> bool:
        return (await counters(engines["catalog"], sku))["reserved"] == 0

    await eventually(all_released, timeout=60)
    async with engines["catalog"].connect() as conn:
        releases = (
            await conn.execute(
                text(
                    "SELECT reference, count(*) n FROM stock_ledger"
                    " WHERE sku_id = :id AND kind = 'release' GROUP BY reference"
                ),
                {"id": sku},
            )
        ).all()
        reasons = await conn.scalar(
            text(
                "SELECT array_agg(DISTINCT release_reason) FROM stock_reservations"
                " WHERE reservation_key = ANY(:keys)"
            ),
            {"keys": keys},
        )
    assert sorted(r.reference for r in releases) == sorted(keys)
    assert {r.n for r in releases} == {1}
    assert reasons == ["expired"]
    assert await counters(engines["catalog"], sku) == {"available": 100, "reserved": 0, "sold": 0}


async def test_order_events_commit_release_and_restock(
    api: httpx.AsyncClient,
    engines: dict[str, AsyncEngine],
    processes: Processes,
    envs: dict[str, dict[str, str]],
) -> None:
    product = await make_product(api, name="事件驱动", stock=20)
    sku = product["skus"][0]["id"]
    paid, cancelled, sentinel = (str(uuid.uuid4()) for _ in range(3))
    for key, quantity in ((paid, 5), (cancelled, 4), (sentinel, 1)):
        assert (await reserve(api, key, [(sku, quantity)])).status_code == 201
    refund = {"order_id": paid, "refund_id": str(uuid.uuid4()), "restock": True}
    refunded = Event(
        type="order.refunded",
        aggregate_id=paid,
        payload={**refund, "items": [{"sku_id": sku, "quantity": 2}]},
    )
    events = [
        Event(type="order.paid", aggregate_id=paid, payload={"order_id": paid}),
        Event(type="order.cancelled", aggregate_id=cancelled, payload={"order_id": cancelled}),
        refunded,
        refunded,  # delivered twice: restocks once
        # Same aggregate, so same partition, after the copy: once it shows, the copy was seen.
        Event(type="order.cancelled", aggregate_id=paid, payload={"order_id": sentinel}),
    ]
    settings = InfraSettings(
        kafka_bootstrap_servers=envs["catalog"]["CATALOG_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=False,
    )
    processes.start("catalog-consumer-events", "-m", "catalog.consumer")
    producer = EventProducer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.publish(event)
    finally:
        await producer.stop()
    expected = {"available": 20 - 5 + 2, "reserved": 0, "sold": 5}

    async def settled() -> bool:
        return await counters(engines["catalog"], sku) == expected

    await eventually(settled, timeout=60)
    async with engines["catalog"].connect() as conn:
        restocks = await conn.scalar(
            text(
                "SELECT count(*) FROM stock_ledger WHERE sku_id = :id AND reason = 'refund_restock'"
            ),
            {"id": sku},
        )
    assert restocks == 1
