"""Order end to end with the real catalog, member and WeChat simulator processes, real
PostgreSQL, Redis and Kafka. Requests carry the X-Auth-* headers the gateway would set."""

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from devstack.infra import free_port
from shared.events import Event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import _wait_http
from tests.shopkit import (
    STAFF,
    available,
    checkout,
    create,
    member,
    order_statuses,
    product,
    publish,
    shopper,
)
from tests.support import Processes, eventually

UNPAID_TIMEOUT_S = 3  # in the sweeper test's own order process


@dataclass
class Suite:
    order: str
    catalog: str
    member: str
    sim: str
    procs: Processes


@pytest.fixture(scope="module")
def suite(envs: dict[str, dict[str, str]], member_url: str, wechat_sim: str) -> Iterator[Suite]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    procs = Processes(env={**merged, "ORDER_SWEEP_INTERVAL_S": "0.3"})
    catalog_port, order_port = (
        envs["catalog"]["CATALOG_HTTP_PORT"],
        envs["order"]["ORDER_HTTP_PORT"],
    )
    procs.start(
        "flow-catalog",
        "-m",
        "uvicorn",
        "catalog.main:create_app",
        "--factory",
        "--port",
        catalog_port,
    )
    procs.start(
        "flow-order", "-m", "uvicorn", "order.main:create_app", "--factory", "--port", order_port
    )
    marketing_port = envs["marketing"]["MARKETING_HTTP_PORT"]  # order prices through it
    procs.start(
        "flow-marketing",
        *("-m", "uvicorn", "marketing.main:create_app", "--factory", "--port", marketing_port),
    )
    procs.start("flow-catalog-consumer", "-m", "catalog.consumer")
    procs.start("flow-order-relay", "-m", "shared.relay", "order")
    try:
        catalog, order = f"http://127.0.0.1:{catalog_port}", f"http://127.0.0.1:{order_port}"
        _wait_http(f"{catalog}/healthz", timeout=60)
        _wait_http(f"{order}/healthz", timeout=60)
        _wait_http(f"http://127.0.0.1:{marketing_port}/healthz", timeout=60)
        yield Suite(order, catalog, member_url, wechat_sim, procs)
    finally:
        procs.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as client:
        yield client


async def test_preview_then_create_reserves_stock_holds_points_and_is_idempotent(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    me = await shopper(http, suite, points=300)
    sku = await product(http, suite, stock=10, price_fen=12_345)
    body = checkout(me, sku, 2, points=300)
    preview = await http.post(f"{suite.order}/api/v1/orders/preview", json=body, headers=member(me))
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert p["goods_fen"] == 24_690 and p["points_used"] == 300
    assert p["total_fen"] == 24_690 - 300 + p["freight_fen"]
    assert sum(line["paid_fen"] for line in p["lines"]) == p["total_fen"] - p["freight_fen"]

    key = str(uuid.uuid4())
    first = await create(http, suite, me, body, key)
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["status"] == "pending_payment" and order["total_fen"] == p["total_fen"]
    assert await available(http, suite, sku) == 8
    points = (await http.get(f"{suite.member}/api/v1/members/me/points", headers=member(me))).json()
    assert points["balance"] == 0 and points["held"] == 300

    again = await create(http, suite, me, body, key)
    assert again.status_code == 201 and again.json() == order
    other = await create(http, suite, me, checkout(me, sku, 1), key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert await available(http, suite, sku) == 8
    missing_key = await http.post(f"{suite.order}/api/v1/orders", json=body, headers=member(me))
    assert missing_key.status_code == 422


async def test_twenty_concurrent_identical_creations_make_one_order(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    me = await shopper(http, suite)
    sku = await product(http, suite, stock=50)
    key, body = str(uuid.uuid4()), checkout(me, sku, 1)
    answers = await asyncio.gather(*(create(http, suite, me, body, key) for _ in range(20)))
    assert {a.status_code for a in answers} <= {201, 409}
    created = {a.json()["order_id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    async with AsyncSession(engines["order"]) as session:
        count = await session.scalar(
            text("SELECT count(*) FROM orders WHERE member_id = :m"), {"m": me["X-Auth-Member-Id"]}
        )
    assert count == 1
    assert await available(http, suite, sku) == 49


async def test_refusals_are_compensated_and_nothing_stays_held(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    me = await shopper(http, suite, points=100)
    sku = await product(http, suite, stock=3)
    # Catalog refuses: not enough stock. Nothing was held.
    short = await create(http, suite, me, checkout(me, sku, 5))
    assert short.status_code == 409 and short.json()["error"]["code"] == "insufficient_stock"
    assert short.json()["error"]["details"][0]["available"] == 3
    # Marketing refuses: no coupon applies (before anything is held).
    coupon = await create(http, suite, me, checkout(me, sku, 1, coupon_id=str(uuid.uuid4())))
    assert coupon.status_code == 422 and coupon.json()["error"]["code"] == "coupon_not_applicable"
    # Member refuses: two orders race for the same 100 points; the loser's stock comes back.
    racing = await asyncio.gather(
        create(http, suite, me, checkout(me, sku, 1, points=100)),
        create(http, suite, me, checkout(me, sku, 1, points=100)),
    )
    codes = sorted(r.status_code for r in racing)
    assert codes == [201, 409], [r.text for r in racing]
    loser = next(r for r in racing if r.status_code == 409)
    assert loser.json()["error"]["code"] == "insufficient_points"
    assert await available(http, suite, sku) == 2  # only the winner holds a unit
    statuses = await order_statuses(engines["order"], me)
    assert statuses == ["failed", "pending_payment"]  # stock was refused before any hold


async def test_a_member_cannot_see_or_cancel_anothers_order(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    alice, bob = await shopper(http, suite), await shopper(http, suite)
    sku = await product(http, suite, stock=5)
    order = (await create(http, suite, alice, checkout(alice, sku))).json()
    url = f"{suite.order}/api/v1/orders/{order['order_id']}"
    assert (await http.get(url, headers=member(bob))).status_code == 404
    assert (await http.post(f"{url}/cancel", headers=member(bob))).status_code == 404
    assert (await http.get(url, headers=member(alice))).status_code == 200
    listed = (await http.get(f"{suite.order}/api/v1/orders", headers=member(bob))).json()
    assert listed["total"] == 0


async def test_cancel_releases_stock_and_illegal_transitions_are_409(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    me = await shopper(http, suite)
    sku = await product(http, suite, stock=4)
    order = (await create(http, suite, me, checkout(me, sku, 2))).json()
    url = f"{suite.order}/api/v1/orders/{order['order_id']}"
    assert (await http.post(f"{url}/confirm-receipt", headers=member(me))).status_code == 409
    cancelled = await http.post(f"{url}/cancel", headers=member(me))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await http.post(f"{url}/cancel", headers=member(me))
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"

    async def released() -> bool:  # order.cancelled → Kafka → catalog releases
        return await available(http, suite, sku) == 4

    await eventually(released, timeout=60)


async def test_paid_shipped_received_then_refunded_with_restock(
    http: httpx.AsyncClient, suite: Suite, envs: dict[str, dict[str, str]]
) -> None:
    consumer = suite.procs.start("flow-order-consumer", "-m", "order.consumer")
    try:
        me = await shopper(http, suite)
        sku = await product(http, suite, stock=5)
        order = (await create(http, suite, me, checkout(me, sku, 2))).json()
        oid = order["order_id"]
        url = f"{suite.order}/api/v1/orders/{oid}"
        paid = Event(
            type="payment.succeeded",
            aggregate_id=oid,
            payload={
                "order_id": oid,
                "payment_id": str(uuid.uuid4()),
                "amount_fen": order["total_fen"],
                "transaction_id": "4200000001",
                "paid_at": "2026-11-23T08:00:00+00:00",
            },
        )
        await publish(envs, paid)
        await publish(envs, paid)  # redelivered: applied once

        async def status_is(wanted: str) -> bool:
            return bool((await http.get(url, headers=member(me))).json()["status"] == wanted)

        await eventually(lambda: status_is("paid"), timeout=60)
        ship = await http.post(
            f"{suite.order}/admin/v1/orders/{oid}/ship",
            headers=STAFF,
            json={"carrier": "顺丰", "tracking_no": "SF1234567890"},
        )
        assert ship.status_code == 200, ship.text
        received = await http.post(f"{url}/confirm-receipt", headers=member(me))
        assert received.json()["status"] == "completed"
        sale = await http.post(
            f"{url}/after-sales",
            headers=member(me),
            json={
                "kind": "return_refund",
                "items": [{"sku_id": sku, "quantity": 2}],
                "reason": "尺码不合适",
            },
        )
        assert sale.status_code == 201, sale.text
        assert (
            sale.json()["amount_fen"] == order["total_fen"] - order["freight_fen"]
        )  # shipped: no freight
        approved = await http.post(
            f"{suite.order}/admin/v1/orders/after-sales/{sale.json()['id']}/approve",
            headers=STAFF,
            json={"note": "ok"},
        )
        assert approved.json()["status"] == "refunding"
        await publish(
            envs,
            Event(
                type="payment.refunded",
                aggregate_id=oid,
                payload={
                    "order_id": oid,
                    "refund_id": sale.json()["id"],
                    "amount_fen": sale.json()["amount_fen"],
                },
            ),
        )
        await eventually(lambda: status_is("refunded"), timeout=60)

        async def restocked() -> bool:  # order.refunded (restock) → catalog puts 2 back
            return await available(http, suite, sku) == 5

        await eventually(restocked, timeout=60)
        staff_view = (await http.get(f"{suite.order}/admin/v1/orders/{oid}", headers=STAFF)).json()
        assert [t["to_status"] for t in staff_view["transitions"]] == [
            "creating",
            "pending_payment",
            "paid",
            "shipped",
            "completed",
            "refunding",
            "refunded",
        ]
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)


async def test_a_different_amount_flags_the_order_instead_of_paying_it(
    http: httpx.AsyncClient, suite: Suite, envs: dict[str, dict[str, str]]
) -> None:
    consumer = suite.procs.start("flow-order-consumer-2", "-m", "order.consumer")
    try:
        me = await shopper(http, suite)
        sku = await product(http, suite, stock=5)
        order = (await create(http, suite, me, checkout(me, sku))).json()
        oid = order["order_id"]
        await publish(
            envs,
            Event(
                type="payment.succeeded",
                aggregate_id=oid,
                payload={
                    "order_id": oid,
                    "payment_id": str(uuid.uuid4()),
                    "amount_fen": order["total_fen"] - 1,
                    "transaction_id": "4200000002",
                    "paid_at": "2026-11-23T08:00:00+00:00",
                },
            ),
        )

        async def flagged() -> bool:
            view = (await http.get(f"{suite.order}/admin/v1/orders/{oid}", headers=STAFF)).json()
            return view["review_reason"] is not None

        await eventually(flagged, timeout=60)
        view = (await http.get(f"{suite.order}/api/v1/orders/{oid}", headers=member(me))).json()
        assert view["status"] == "pending_payment" and view["under_review"] is True
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)


async def test_unpaid_orders_are_cancelled_exactly_once_by_two_sweepers_and_a_restart(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    port = str(free_port())
    suite.procs.start(
        "flow-order-short",
        "-m",
        "uvicorn",
        "order.main:create_app",
        "--factory",
        "--port",
        port,
        env={"ORDER_UNPAID_TIMEOUT_S": str(UNPAID_TIMEOUT_S)},
    )
    _wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    short = Suite(f"http://127.0.0.1:{port}", suite.catalog, suite.member, suite.sim, suite.procs)
    me = await shopper(http, suite)
    sku = await product(http, suite, stock=30)
    orders = [
        (await create(http, short, me, checkout(me, sku))).json()["order_id"] for _ in range(10)
    ]
    assert await available(http, suite, sku) == 20
    first = suite.procs.start("sweeper-a", "-m", "order.consumer")
    suite.procs.start("sweeper-b", "-m", "order.consumer")
    await asyncio.sleep(UNPAID_TIMEOUT_S / 2)
    first.kill()  # a sweeper dies mid-way ...
    first.wait()
    suite.procs.start("sweeper-a-again", "-m", "order.consumer")  # ... and comes back

    async def all_cancelled() -> bool:
        async with AsyncSession(engines["order"]) as session:
            left = await session.scalar(
                text("SELECT count(*) FROM orders WHERE id = ANY(:ids) AND status <> 'cancelled'"),
                {"ids": [uuid.UUID(o) for o in orders]},
            )
        return bool(left == 0)

    await eventually(all_cancelled, timeout=60)
    async with AsyncSession(engines["order"]) as session:
        transitions = await session.scalar(
            text(
                "SELECT count(*) FROM order_transitions WHERE order_id = ANY(:ids) "
                "AND to_status = 'cancelled'"
            ),
            {"ids": [uuid.UUID(o) for o in orders]},
        )
        events = await session.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE type = 'order.cancelled' "
                "AND aggregate_id = ANY(:ids)"
            ),
            {"ids": orders},
        )
    assert transitions == 10 and events == 10

    async def released() -> bool:
        return await available(http, suite, sku) == 30

    await eventually(released, timeout=60)
    for name in ("sweeper-a-again", "sweeper-b"):
        suite.procs.running[name].send_signal(signal.SIGTERM)


async def test_store_pickup_invoice_and_automatic_completion(
    http: httpx.AsyncClient, suite: Suite, envs: dict[str, dict[str, str]]
) -> None:
    consumer = suite.procs.start(
        "flow-order-consumer-3", "-m", "order.consumer", env={"ORDER_AUTO_COMPLETE_DAYS": "0"}
    )
    try:
        me = await shopper(http, suite)
        sku = await product(http, suite, stock=5)

        async def paid_order(body: dict[str, Any]) -> dict[str, Any]:
            order: dict[str, Any] = (await create(http, suite, me, body)).json()
            await publish(
                envs,
                Event(
                    type="payment.succeeded",
                    aggregate_id=order["order_id"],
                    payload={
                        "order_id": order["order_id"],
                        "payment_id": str(uuid.uuid4()),
                        "amount_fen": order["total_fen"],
                        "transaction_id": f"42{uuid.uuid4().int % 10**10}",
                        "paid_at": "2026-11-23T08:00:00+00:00",
                    },
                ),
            )

            async def paid() -> dict[str, Any] | None:
                url = f"{suite.order}/api/v1/orders/{order['order_id']}"
                view: dict[str, Any] = (await http.get(url, headers=member(me))).json()
                return view if view["status"] == "paid" else None

            return await eventually(paid, timeout=60)

        pickup = await paid_order(
            {"items": [{"sku_id": sku, "quantity": 1}], "fulfilment": "pickup"}
        )
        assert pickup["freight_fen"] == 0 and pickup["pickup_code"]
        verify = f"{suite.order}/admin/v1/orders/{pickup['order_id']}/pickup"
        wrong = await http.post(verify, headers=STAFF, json={"pickup_code": "00000000"})
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "pickup_code_wrong"
        right = await http.post(verify, headers=STAFF, json={"pickup_code": pickup["pickup_code"]})
        assert right.json()["status"] == "completed"

        delivered = await paid_order(checkout(me, sku))
        invoice = await http.put(
            f"{suite.order}/api/v1/orders/{delivered['order_id']}/invoice",
            headers=member(me),
            json={"title": "某某科技有限公司", "tax_id": "91310000MA1FL8XX3X"},
        )
        assert invoice.json()["invoice"]["status"] == "requested"
        bad_invoice = await http.put(
            f"{suite.order}/api/v1/orders/{delivered['order_id']}/invoice",
            headers=member(me),
            json={"title": "x", "tax_id": "not a tax id"},
        )
        assert bad_invoice.status_code == 422
        await http.post(
            f"{suite.order}/admin/v1/orders/{delivered['order_id']}/ship",
            headers=STAFF,
            json={"carrier": "中通", "tracking_no": "ZT20261123001"},
        )

        async def completed_by_the_sweeper() -> bool:
            view = await http.get(
                f"{suite.order}/admin/v1/orders/{delivered['order_id']}", headers=STAFF
            )
            last = view.json()["transitions"][-1]
            return bool(last["to_status"] == "completed" and last["actor"] == "system")

        await eventually(completed_by_the_sweeper, timeout=60)
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)


async def test_cart_refreshes_prices_and_flags_stale_lines_without_dropping_them(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    me = await shopper(http, suite)
    keep = await product(http, suite, stock=5, price_fen=1_000)
    gone = await product(http, suite, stock=5, price_fen=2_000)
    cart_url = f"{suite.order}/api/v1/cart"
    for sku, quantity in ((keep, 2), (gone, 1)):
        put = await http.put(
            f"{cart_url}/items/{sku}", headers=member(me), json={"quantity": quantity}
        )
        assert put.status_code == 200, put.text
    cart = (await http.get(cart_url, headers=member(me))).json()
    assert cart["selected_goods_fen"] == 4_000 and cart["orderable"] is True

    # Staff change one price and take the other product off the shelf.
    skus = (
        await http.get(f"{suite.catalog}/internal/v1/catalog/skus", params={"ids": gone})
    ).json()["items"]
    await http.patch(
        f"{suite.catalog}/admin/v1/catalog/products/{skus[0]['product_id']}",
        headers=STAFF,
        json={"status": "off_shelf"},
    )
    await http.patch(
        f"{suite.catalog}/admin/v1/catalog/skus/{keep}", headers=STAFF, json={"price_fen": 1_200}
    )

    async def refreshed() -> dict[str, Any] | None:
        view: dict[str, Any] = (await http.get(cart_url, headers=member(me))).json()
        lines = {line["sku_id"]: line for line in view["items"]}
        ok = lines[keep]["price_fen"] == 1_200 and lines[gone]["stale"] == "off_shelf"
        return view if ok else None

    view = await eventually(refreshed, timeout=30)
    lines = {line["sku_id"]: line for line in view["items"]}
    assert lines[keep]["price_changed"] is True and lines[keep]["stale"] is None
    assert len(view["items"]) == 2 and view["orderable"] is False  # flagged, not dropped
    too_many = await http.put(f"{cart_url}/items/{keep}", headers=member(me), json={"quantity": 6})
    assert too_many.status_code == 200
    assert {line["sku_id"]: line for line in too_many.json()["items"]}[keep]["stale"] == (
        "insufficient_stock"
    )
    removed = await http.delete(f"{cart_url}/items/{gone}", headers=member(me))
    assert removed.status_code == 204
    assert (await http.delete(f"{cart_url}/items/{gone}", headers=member(me))).status_code == 404
