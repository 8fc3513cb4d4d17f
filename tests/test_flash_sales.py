"""Flash sales end to end with the real catalog, order and marketing processes (HTTP,
consumers, relays), real PostgreSQL, Redis and Kafka. Requests carry the X-Auth-* headers
the gateway would set."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis
from shared.events import Event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.flashkit import (
    FlashSuite,
    admin_sale,
    all_final,
    buy,
    create_sale,
    me,
    orders_of_sale,
    start_suite,
    ticket,
    token,
)
from tests.shopkit import STAFF, available, product, publish
from tests.support import eventually


@pytest.fixture(scope="module")
def suite(envs: dict[str, dict[str, str]]) -> Iterator[FlashSuite]:
    yield from start_suite(envs, "flash")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        yield client


@pytest.fixture
async def redis(suite: FlashSuite) -> AsyncIterator[Redis]:
    client = Redis.from_url(suite.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def remaining(http: httpx.AsyncClient, suite: FlashSuite, sale_id: str) -> int:
    return int((await admin_sale(http, suite, sale_id))["remaining_units"])


async def test_race_sells_exactly_the_units_once_each(
    http: httpx.AsyncClient, suite: FlashSuite, engines: dict[str, AsyncEngine]
) -> None:
    sku = await product(http, suite, stock=500)
    sale = await create_sale(http, suite, sku, 20)
    # The units are held at catalog from loading: normal orders cannot take them.
    assert await available(http, suite, sku) == 480
    listed = (await http.get(f"{suite.marketing}/api/v1/marketing/flash-sales")).json()
    mine = next(s for s in listed["items"] if s["id"] == sale["id"])
    assert mine["status"] == "running" and mine["remaining_units"] == 20
    assert mine["total_units"] == 20 and mine["per_member_limit"] == 1

    members = [me() for _ in range(200)]
    tokens = await asyncio.gather(*(token(http, suite, sale["id"], m) for m in members))
    answers = await asyncio.gather(
        *(buy(http, suite, sale, m, t) for m, t in zip(members, tokens, strict=True))
    )
    accepted = {
        r.json()["ticket"]: m for r, m in zip(answers, members, strict=True) if r.status_code == 202
    }
    refused = [r for r in answers if r.status_code != 202]
    assert len(accepted) == 20
    assert len(refused) == 180
    assert {r.status_code for r in refused} == {409}
    assert {r.json()["error"]["code"] for r in refused} == {"sold_out"}

    states = await all_final(http, suite, accepted)
    assert {s["status"] for s in states.values()} == {"ordered"}
    orders = await orders_of_sale(engines["order"], sale["id"])
    assert len(orders) == 20  # not one oversold
    assert sorted(o[0] for o in orders) == sorted(accepted)
    assert len({o[1] for o in orders}) == 20  # one per member
    assert {o[2] for o in orders} == {"pending_payment"}
    assert {s["order_id"] for s in states.values()} == {
        str(o) for o in await _order_ids(engines["order"], list(accepted))
    }
    detail = await admin_sale(http, suite, sale["id"])
    assert detail["remaining_units"] == 0
    assert detail["tickets"]["ordered"] == 20 and detail["tickets"]["units_held"] == 20
    # The order is a normal order at the sale price, with the sale's payment window.
    who = accepted[next(iter(accepted))]
    order_id = states[next(iter(accepted))]["order_id"]
    order = (await http.get(f"{suite.order}/api/v1/orders/{order_id}", headers=who)).json()
    assert order["total_fen"] == 990 and order["status"] == "pending_payment"


async def _order_ids(engine: AsyncEngine, tickets: list[str]) -> list[uuid.UUID]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM orders WHERE activity_ref = ANY(:t)"), {"t": tickets}
        )
        return [r[0] for r in rows]


async def test_token_limit_repeats_and_window(http: httpx.AsyncClient, suite: FlashSuite) -> None:
    sku = await product(http, suite, stock=50)
    sale = await create_sale(http, suite, sku, 10, limit=2)
    alice, bob = me(), me()
    alice_token = await token(http, suite, sale["id"], alice)
    # No token, a forged one, someone else's: a scripted hit fails.
    for bad in (
        None,
        "9999999999.000000000000000000000000",
        await token(http, suite, sale["id"], bob),
    ):
        refused = await buy(http, suite, sale, alice, bad)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "purchase_token_invalid"
    # The token may also come in the body.
    first = await buy(http, suite, sale, alice, None, token=alice_token)
    assert first.status_code == 202, first.text
    # The same request again (a client retry with its idempotency key) gets the same ticket.
    keyed = {**alice, "Idempotency-Key": "retry-1"}
    second = await buy(http, suite, sale, keyed, alice_token)
    again = await buy(http, suite, sale, keyed, alice_token)
    assert second.status_code == again.status_code == 202
    assert second.json()["ticket"] == again.json()["ticket"] != first.json()["ticket"]
    # Two per member: a third is refused, whatever the key.
    third = await buy(http, suite, sale, alice, alice_token)
    assert third.status_code == 409 and third.json()["error"]["code"] == "purchase_limit_reached"
    too_many = await buy(
        http, suite, sale, bob, await token(http, suite, sale["id"], bob), quantity=3
    )
    assert too_many.status_code == 409
    wrong = await buy(
        http, suite, sale, bob, await token(http, suite, sale["id"], bob), sku_id=str(uuid.uuid4())
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "sku_not_in_sale"
    assert (await buy(http, suite, sale, {}, alice_token)).status_code == 401
    assert await remaining(http, suite, sale["id"]) == 8
    # Someone else's ticket is not shown.
    got = await http.get(
        f"{suite.marketing}/api/v1/marketing/flash-sales/tickets/{first.json()['ticket']}",
        headers=bob,
    )
    assert got.status_code == 404

    # A sale that starts later: listed as upcoming, no token yet, no purchase.
    later = await create_sale(http, suite, sku, 5, starts_in_s=200)
    listed = (await http.get(f"{suite.marketing}/api/v1/marketing/flash-sales")).json()
    assert next(s for s in listed["items"] if s["id"] == later["id"])["status"] == "upcoming"
    early = await http.post(
        f"{suite.marketing}/api/v1/marketing/flash-sales/{later['id']}/token", headers=bob
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "purchase_token_not_yet"
    unknown = await buy(http, suite, {**sale, "id": str(uuid.uuid4())}, bob, alice_token)
    assert unknown.status_code in (403, 404)


async def test_unpaid_order_gives_the_unit_back_once_and_someone_else_buys_it(
    http: httpx.AsyncClient,
    suite: FlashSuite,
    engines: dict[str, AsyncEngine],
    envs: dict[str, dict[str, str]],
) -> None:
    sku = await product(http, suite, stock=10)
    sale = await create_sale(http, suite, sku, 1, window_s=10)
    alice, bob = me(), me()
    bought = await buy(http, suite, sale, alice, await token(http, suite, sale["id"], alice))
    assert bought.status_code == 202
    bob_token = await token(http, suite, sale["id"], bob)
    assert (await buy(http, suite, sale, bob, bob_token)).json()["error"]["code"] == "sold_out"
    first = (await all_final(http, suite, {bought.json()["ticket"]: alice}))[
        bought.json()["ticket"]
    ]
    assert first["status"] == "ordered"

    # Not paid within the window: the sweeper cancels, the unit comes back exactly once.
    async def cancelled() -> bool:
        orders = await orders_of_sale(engines["order"], sale["id"])
        return orders[0][2] == "cancelled"

    await eventually(cancelled, timeout=60)
    await eventually(lambda: _is(remaining(http, suite, sale["id"]), 1), timeout=30)
    # The same cancellation again (a redelivery under another event id) changes nothing.
    await publish(
        envs,
        Event(
            type="order.cancelled",
            aggregate_id=first["order_id"],
            payload={
                "order_id": first["order_id"],
                "member_id": alice["X-Auth-Member-Id"],
                "reason": "again",
            },
        ),
    )
    await asyncio.sleep(2)
    assert await remaining(http, suite, sale["id"]) == 1
    # Someone else buys it.
    again = await buy(http, suite, sale, bob, bob_token)
    assert again.status_code == 202, again.text
    state = (await all_final(http, suite, {again.json()["ticket"]: bob}))[again.json()["ticket"]]
    assert state["status"] == "ordered"
    assert await remaining(http, suite, sale["id"]) == 0
    orders = await orders_of_sale(engines["order"], sale["id"])
    assert sorted(o[2] for o in orders) == ["cancelled", "pending_payment"]


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_paid_unit_is_committed_at_catalog(
    http: httpx.AsyncClient, suite: FlashSuite, envs: dict[str, dict[str, str]]
) -> None:
    sku = await product(http, suite, stock=10)
    sale = await create_sale(http, suite, sku, 3)
    alice = me()
    bought = await buy(http, suite, sale, alice, await token(http, suite, sale["id"], alice))
    state = (await all_final(http, suite, {bought.json()["ticket"]: alice}))[
        bought.json()["ticket"]
    ]
    await publish(
        envs,
        Event(
            type="payment.succeeded",
            aggregate_id=state["order_id"],
            payload={
                "order_id": state["order_id"],
                "payment_id": str(uuid.uuid4()),
                "amount_fen": 990,
                "transaction_id": "4200000000000000001",
                "paid_at": datetime.now(UTC).isoformat(),
            },
        ),
    )

    async def committed() -> bool:
        detail = await admin_sale(http, suite, sale["id"])
        return bool(detail["tickets"]["paid"] == 1)

    await eventually(committed, timeout=30)

    async def sold_at_catalog() -> bool:
        found = await http.get(f"{suite.catalog}/admin/v1/catalog/skus/{sku}/stock", headers=STAFF)
        if found.status_code != 200:
            return False
        body = found.json()
        return bool(body.get("sold") == 1 and body.get("reserved") == 2)

    await eventually(sold_at_catalog, timeout=30)


async def test_redis_losing_the_sale_loses_no_sold_unit_and_sells_none_twice(
    http: httpx.AsyncClient, suite: FlashSuite, redis: Redis, engines: dict[str, AsyncEngine]
) -> None:
    sku = await product(http, suite, stock=20)
    sale = await create_sale(http, suite, sku, 6)
    buyers = [me() for _ in range(4)]
    tickets = {}
    for who in buyers:
        r = await buy(http, suite, sale, who, await token(http, suite, sale["id"], who))
        assert r.status_code == 202
        tickets[r.json()["ticket"]] = who
    await all_final(http, suite, tickets)
    # Redis restarts empty (no persistence): every key of the sale is gone.
    await redis.flushdb()
    # The sale is rebuilt from PostgreSQL: 2 left, the 4 buyers still at their limit.
    await eventually(lambda: _is(remaining(http, suite, sale["id"]), 2), timeout=30)
    for who in buyers:
        r = await buy(http, suite, sale, who, await token(http, suite, sale["id"], who))
        assert r.status_code == 409 and r.json()["error"]["code"] == "purchase_limit_reached"
    for t, who in tickets.items():
        assert (await ticket(http, suite, t, who))["status"] == "ordered"
    late = [me() for _ in range(5)]
    answers = [
        await buy(http, suite, sale, w, await token(http, suite, sale["id"], w)) for w in late
    ]
    assert [a.status_code for a in answers] == [202, 202, 409, 409, 409]
    await all_final(
        http,
        suite,
        {a.json()["ticket"]: w for a, w in zip(answers, late, strict=True) if a.status_code == 202},
    )
    orders = await orders_of_sale(engines["order"], sale["id"])
    assert len(orders) == 6 and len({o[1] for o in orders}) == 6


async def test_reconciliation_repairs_planted_discrepancies(
    http: httpx.AsyncClient, suite: FlashSuite, redis: Redis
) -> None:
    sku = await product(http, suite, stock=20)
    sale = await create_sale(http, suite, sku, 5)
    alice = me()
    r = await buy(http, suite, sale, alice, await token(http, suite, sale["id"], alice))
    await all_final(http, suite, {r.json()["ticket"]: alice})
    tag = f"{{fs:{sale['id']}}}"
    held = str(await redis.hget(f"{tag}:tickets", r.json()["ticket"])).split("|")[3]
    # A free unit lost, a sold one put back on sale (it would sell twice), a counter wrong.
    free = [str(u) for u in await redis.lrange(f"{tag}:units", 0, -1)]
    await redis.lrem(f"{tag}:units", 1, free[0])
    await redis.rpush(f"{tag}:units", held)
    await redis.hset(f"{tag}:members", alice["X-Auth-Member-Id"], 0)
    report = await http.post(
        f"{suite.marketing}/admin/v1/marketing/flash-sales/{sale['id']}/reconcile", headers=STAFF
    )
    if report.status_code == 200 and report.json()["sales"]:
        check = report.json()["sales"][0]
        # The background reconciler may have repaired some of it first.
        assert check["doubly_held"] == 0

    # Whoever repaired it: 4 free units, the held one not among them, the counter right.
    async def repaired() -> bool:
        units = await redis.lrange(f"{tag}:units", 0, -1)
        count = await redis.hget(f"{tag}:members", alice["X-Auth-Member-Id"])
        return sorted(units) == sorted(str(s) for s in range(5) if str(s) != held) and count == "1"

    await eventually(repaired, timeout=20)
    again = await buy(http, suite, sale, alice, await token(http, suite, sale["id"], alice))
    assert again.json()["error"]["code"] == "purchase_limit_reached"
