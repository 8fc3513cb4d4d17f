"""Group-buy, bargain, referral commissions and abandoned-cart offers end to end: the real
marketing, order, payment and catalog processes (HTTP, consumers, relays), member and the
WeChat simulator, real PostgreSQL, Redis and Kafka. Requests carry the X-Auth-* headers the
gateway would set. Time is moved by writing a deadline into the past (the sweepers then do
what they would do at that time)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack.infra import free_port
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from wechat_sim.pay.keys import DevKeys

from tests.conftest import _wait_http
from tests.shopkit import STAFF, checkout, create, member, product, shopper
from tests.support import Processes, eventually
from tests.test_payment_flow import payment_env, prepay_id_of, uvicorn

MESSAGE_TEMPLATE = "cart_reminder_tpl_01"


@dataclass
class Suite:
    order: str
    catalog: str
    member: str
    sim: str
    payment: str
    marketing: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def suite(
    envs: dict[str, dict[str, str]], member_url: str, wechat_sim: str, wechatpay_keys: DevKeys
) -> Iterator[Suite]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    names = ("catalog", "order", "payment", "marketing")
    ports = {s: envs[s][f"{s.upper()}_HTTP_PORT"] for s in names}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    env = {
        **merged,
        **payment_env(wechat_sim, wechatpay_keys, urls["payment"], urls["payment"]),
        "MARKETING_ACTIVITY_SWEEP_INTERVAL_S": "0.3",
        "ORDER_SWEEP_INTERVAL_S": "0.5",
    }
    procs = Processes(env=env)
    for s in names:
        procs.start(f"act-{s}", *uvicorn(f"{s}.main:create_app", ports[s]))
    for s in ("order", "payment", "marketing", "catalog"):
        procs.start(f"act-{s}-consumer", "-m", f"{s}.consumer")
        procs.start(f"act-{s}-relay", "-m", "shared.relay", s)
    try:
        for url in urls.values():
            _wait_http(f"{url}/healthz", timeout=90)
        yield Suite(
            urls["order"],
            urls["catalog"],
            member_url,
            wechat_sim,
            urls["payment"],
            urls["marketing"],
            env,
        )
    finally:
        procs.stop_all()


@pytest.fixture
async def http(suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with AsyncSession(engine) as session, session.begin():
        result = await session.execute(text(statement), params)
        return [dict(r._mapping) for r in result] if result.returns_rows else []  # type: ignore[attr-defined]


def window(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        **extra,
    }


async def group_offer(http: httpx.AsyncClient, suite: Suite, sku: str, size: int) -> str:
    made = await http.post(
        f"{suite.marketing}/admin/v1/marketing/group-buys",
        headers=STAFF,
        json=window(
            name="三人团", sku_id=sku, group_price_fen=6_000, group_size=size, duration_s=3600
        ),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def pay(http: httpx.AsyncClient, suite: Suite, me: dict[str, str], order_id: str) -> None:
    prepay = await http.post(
        f"{suite.payment}/api/v1/payments/wechat/prepay",
        json={"order_id": order_id},
        headers=member(me),
    )
    paid = await http.post(f"{suite.sim}/sandbox/pay", json={"prepay_id": prepay_id_of(prepay)})
    assert paid.status_code == 200, paid.text


async def order_status(http: httpx.AsyncClient, suite: Suite, me: dict[str, str], oid: str) -> str:
    found = await http.get(f"{suite.order}/api/v1/orders/{oid}", headers=member(me))
    return str(found.json()["status"])


async def becomes(
    http: httpx.AsyncClient, suite: Suite, me: dict[str, str], oid: str, wanted: str
) -> None:
    async def probe() -> bool:
        return await order_status(http, suite, me, oid) == wanted

    await eventually(probe, timeout=90, interval=0.3)


async def group_status(http: httpx.AsyncClient, suite: Suite, group_id: str) -> dict[str, Any]:
    found = await http.get(f"{suite.marketing}/api/v1/marketing/group-buys/groups/{group_id}")
    assert found.status_code == 200, found.text
    return dict(found.json())


async def group_order(
    http: httpx.AsyncClient, suite: Suite, me: dict[str, str], sku: str, ref: str
) -> str:
    created = await create(
        http, suite, me, checkout(me, sku, activity={"kind": "group_buy", "ref": ref})
    )
    assert created.status_code == 201, created.text
    return str(created.json()["order_id"])


SHIP = {"carrier": "SF", "tracking_no": "SF100200300"}


async def test_a_group_of_n_takes_exactly_n_under_concurrent_joins_and_ships_once_full(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    sku = await product(http, suite, stock=20, price_fen=10_000)
    offer = await group_offer(http, suite, sku, size=3)
    leader = await shopper(http, suite)
    opened = await http.post(
        f"{suite.marketing}/api/v1/marketing/group-buys/{offer}/groups", headers=member(leader)
    )
    assert opened.status_code == 201, opened.text
    ref, group_id = opened.json()["activity_ref"], opened.json()["group"]["id"]
    # Nobody joins before the leader has paid.
    early = await shopper(http, suite)
    refused = await http.post(
        f"{suite.marketing}/api/v1/marketing/group-buys/groups/{group_id}/join",
        headers=member(early),
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "group_not_open"
    # The group price, one unit, no coupon.
    activity = {"kind": "group_buy", "ref": ref}
    preview = await http.post(
        f"{suite.order}/api/v1/orders/preview",
        json=checkout(leader, sku, activity=activity),
        headers=member(leader),
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["lines"][0]["unit_price_fen"] == 6_000
    two = await create(http, suite, leader, checkout(leader, sku, 2, activity=activity))
    assert two.json()["error"]["code"] == "activity_not_applicable"
    coupon = await create(
        http, suite, leader, checkout(leader, sku, activity=activity, coupon_id=str(uuid.uuid4()))
    )
    assert coupon.json()["error"]["code"] == "coupon_not_applicable"
    other_sku = await product(http, suite, stock=5)
    wrong = await create(http, suite, leader, checkout(leader, other_sku, activity=activity))
    assert wrong.status_code == 422, wrong.text
    stranger = await create(http, suite, early, checkout(early, sku, activity=activity))
    assert stranger.json()["error"]["code"] == "activity_not_applicable"
    leader_order = await group_order(http, suite, leader, sku, ref)
    again = await create(http, suite, leader, checkout(leader, sku, activity=activity))
    assert again.status_code == 409 and again.json()["error"]["code"] == "activity_in_use"
    await pay(http, suite, leader, leader_order)
    await becomes(http, suite, leader, leader_order, "paid")

    async def forming() -> bool:
        return bool((await group_status(http, suite, group_id))["status"] == "forming")

    await eventually(forming, timeout=60, interval=0.3)
    held = await http.post(
        f"{suite.order}/admin/v1/orders/{leader_order}/ship", headers=STAFF, json=SHIP
    )
    assert held.status_code == 409 and held.json()["error"]["code"] == "group_not_complete"

    # 6 members race for the 2 free slots (one of them twice, and the leader once more).
    racers = [early, *[await shopper(http, suite) for _ in range(5)]]
    attempts = [*racers, racers[1], leader]
    answers = await asyncio.gather(
        *(
            http.post(
                f"{suite.marketing}/api/v1/marketing/group-buys/groups/{group_id}/join",
                headers=member(m),
            )
            for m in attempts
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 2, [a.text for a in answers]
    refusals = {a.json()["error"]["code"] for a in answers if a.status_code != 201}
    assert refusals <= {"group_full", "already_in_group"}
    assert answers[-1].json()["error"]["code"] == "already_in_group"
    joined = [
        (m, a.json()["activity_ref"])
        for m, a in zip(attempts, answers, strict=True)
        if a.status_code == 201
    ]
    assert len({m["X-Auth-Member-Id"] for m, _ in joined}) == 2
    assert (await group_status(http, suite, group_id))["slots_taken"] == 3

    orders = [(m, await group_order(http, suite, m, sku, r)) for m, r in joined]
    for m, oid in orders:
        await pay(http, suite, m, oid)

    async def succeeded() -> bool:
        return bool((await group_status(http, suite, group_id))["status"] == "succeeded")

    await eventually(succeeded, timeout=90, interval=0.3)

    async def shippable() -> bool:
        shipped = await http.post(
            f"{suite.order}/admin/v1/orders/{leader_order}/ship", headers=STAFF, json=SHIP
        )
        return shipped.status_code == 200

    await eventually(shippable, timeout=60, interval=0.3)
    staff_view = await http.get(
        f"{suite.marketing}/admin/v1/marketing/group-buys/groups/{group_id}", headers=STAFF
    )
    assert staff_view.json()["paid_count"] == 3
    assert sorted(staff_view.json()["order_ids"]) == sorted([leader_order, *(o for _, o in orders)])


async def test_an_expired_group_cancels_unpaid_orders_and_refunds_paid_ones(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    sku = await product(http, suite, stock=20, price_fen=10_000)
    offer = await group_offer(http, suite, sku, size=3)
    leader, unpaid, idle = [await shopper(http, suite) for _ in range(3)]
    opened = await http.post(
        f"{suite.marketing}/api/v1/marketing/group-buys/{offer}/groups", headers=member(leader)
    )
    group_id = opened.json()["group"]["id"]
    leader_order = await group_order(http, suite, leader, sku, opened.json()["activity_ref"])
    await pay(http, suite, leader, leader_order)

    async def forming() -> bool:
        return bool((await group_status(http, suite, group_id))["status"] == "forming")

    await eventually(forming, timeout=60, interval=0.3)
    joins = {}
    for m in (unpaid, idle):
        joined = await http.post(
            f"{suite.marketing}/api/v1/marketing/group-buys/groups/{group_id}/join",
            headers=member(m),
        )
        assert joined.status_code == 201, joined.text
        joins[m["X-Auth-Member-Id"]] = joined.json()["activity_ref"]
    unpaid_order = await group_order(http, suite, unpaid, sku, joins[unpaid["X-Auth-Member-Id"]])
    # The clock passes the group's deadline.
    await sql(
        engines["marketing"],
        "UPDATE group_buy_groups SET expires_at = now() - interval '1 second' WHERE id = :g",
        g=group_id,
    )

    async def failed() -> bool:
        return bool((await group_status(http, suite, group_id))["status"] == "failed")

    await eventually(failed, timeout=60, interval=0.3)
    await becomes(http, suite, unpaid, unpaid_order, "cancelled")
    await becomes(http, suite, leader, leader_order, "refunded")
    [refund] = await sql(
        engines["payment"], "SELECT * FROM refunds WHERE order_id = :o", o=leader_order
    )
    assert refund["status"] == "succeeded" and refund["amount_fen"] == 6_000
    found = await http.get(f"{suite.order}/admin/v1/orders/{leader_order}", headers=STAFF)
    assert found.json()["refunded_fen"] == found.json()["total_fen"]
    # The idle slot never became an order; a slot of a closed group prices nothing.
    late = await create(
        http,
        suite,
        idle,
        checkout(idle, sku, activity={"kind": "group_buy", "ref": joins[idle["X-Auth-Member-Id"]]}),
    )
    assert late.json()["error"]["code"] == "activity_not_applicable"


async def test_an_unordered_slot_is_freed_after_the_hold(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    sku = await product(http, suite, stock=5)
    offer = await group_offer(http, suite, sku, size=2)
    leader = await shopper(http, suite)
    opened = await http.post(
        f"{suite.marketing}/api/v1/marketing/group-buys/{offer}/groups", headers=member(leader)
    )
    group_id = opened.json()["group"]["id"]
    await sql(
        engines["marketing"],
        "UPDATE group_buy_members SET created_at = now() - interval '1 day' WHERE group_id = :g",
        g=group_id,
    )

    async def cancelled() -> bool:
        return bool((await group_status(http, suite, group_id))["status"] == "cancelled")

    await eventually(cancelled, timeout=60, interval=0.3)
    # The leader may open another group of the offer now.
    again = await http.post(
        f"{suite.marketing}/api/v1/marketing/group-buys/{offer}/groups", headers=member(leader)
    )
    assert again.status_code == 201, again.text


async def test_bargain_helps_are_once_each_never_below_the_floor_and_buy_at_the_price(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    sku = await product(http, suite, stock=5, price_fen=10_000)
    made = await http.post(
        f"{suite.marketing}/admin/v1/marketing/bargains",
        headers=STAFF,
        json=window(
            name="砍一刀",
            sku_id=sku,
            start_price_fen=10_000,
            floor_price_fen=1_000,
            target_helps=3,
            duration_s=3600,
        ),
    )
    assert made.status_code == 201, made.text
    owner = await shopper(http, suite)
    started = await http.post(
        f"{suite.marketing}/api/v1/marketing/bargains/offers/{made.json()['id']}/start",
        headers=member(owner),
    )
    assert started.status_code == 201, started.text
    bargain = started.json()["id"]
    twice = await http.post(
        f"{suite.marketing}/api/v1/marketing/bargains/offers/{made.json()['id']}/start",
        headers=member(owner),
    )
    assert twice.json()["error"]["code"] == "bargain_exists"
    own = await http.post(
        f"{suite.marketing}/api/v1/marketing/bargains/{bargain}/help", headers=member(owner)
    )
    assert own.json()["error"]["code"] == "own_bargain"
    friends = [await shopper(http, suite) for _ in range(5)]
    attempts = [*friends, friends[0], friends[1]]
    answers = await asyncio.gather(
        *(
            http.post(
                f"{suite.marketing}/api/v1/marketing/bargains/{bargain}/help", headers=member(f)
            )
            for f in attempts
        )
    )
    helped = [a for a in answers if a.status_code == 200]
    assert len(helped) == 3, [a.text for a in answers]  # the floor in the target helps
    assert {a.json()["error"]["code"] for a in answers if a.status_code != 200} <= {
        "bargain_at_floor",
        "already_helped",
    }
    assert sum(a.json()["cut_fen"] for a in helped) == 9_000
    page = (await http.get(f"{suite.marketing}/api/v1/marketing/bargains/{bargain}")).json()
    assert page["current_price_fen"] == 1_000 and page["helps_count"] == 3
    assert len(page["helps"]) == 3

    activity = {"kind": "bargain", "ref": bargain}
    first = await create(http, suite, owner, checkout(owner, sku, activity=activity))
    assert first.status_code == 201, first.text
    assert first.json()["items"][0]["unit_price_fen"] == 1_000
    second = await create(http, suite, owner, checkout(owner, sku, activity=activity))
    assert second.json()["error"]["code"] == "activity_in_use"
    cancel = await http.post(
        f"{suite.order}/api/v1/orders/{first.json()['order_id']}/cancel", headers=member(owner)
    )
    assert cancel.status_code == 200, cancel.text

    async def reopened() -> bool:
        found = await http.get(f"{suite.marketing}/api/v1/marketing/bargains/{bargain}")
        return bool(found.json()["status"] == "active")

    await eventually(reopened, timeout=60, interval=0.3)
    retry = await create(http, suite, owner, checkout(owner, sku, activity=activity))
    assert retry.status_code == 201, retry.text
    await pay(http, suite, owner, retry.json()["order_id"])

    async def purchased() -> bool:
        found = await http.get(f"{suite.marketing}/api/v1/marketing/bargains/{bargain}")
        return bool(found.json()["status"] == "purchased")

    await eventually(purchased, timeout=60, interval=0.3)


async def complete(http: httpx.AsyncClient, suite: Suite, me: dict[str, str], oid: str) -> None:
    await becomes(http, suite, me, oid, "paid")
    shipped = await http.post(f"{suite.order}/admin/v1/orders/{oid}/ship", headers=STAFF, json=SHIP)
    assert shipped.status_code == 200, shipped.text
    done = await http.post(f"{suite.order}/api/v1/orders/{oid}/confirm-receipt", headers=member(me))
    assert done.status_code == 200, done.text


async def test_referral_binds_once_earns_on_completion_reverses_on_refund_and_settles_once(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    referrer, buyer, late = [await shopper(http, suite) for _ in range(3)]
    base = f"{suite.marketing}/api/v1/marketing/referrals"
    code = (await http.get(f"{base}/me", headers=member(referrer))).json()["referrer_code"]
    own = await http.post(f"{base}/bind", json={"referrer_code": code}, headers=member(referrer))
    assert own.json()["error"]["code"] == "self_referral"
    bound = await http.post(f"{base}/bind", json={"referrer_code": code}, headers=member(buyer))
    assert bound.status_code == 200 and bound.json()["newly_bound"] is True
    late_code = (await http.get(f"{base}/me", headers=member(late))).json()["referrer_code"]
    second = await http.post(
        f"{base}/bind", json={"referrer_code": late_code}, headers=member(buyer)
    )
    assert second.json()["newly_bound"] is False
    assert second.json()["referrer_id"] == referrer["X-Auth-Member-Id"]
    buyer_code = (await http.get(f"{base}/me", headers=member(buyer))).json()["referrer_code"]
    cycle = await http.post(
        f"{base}/bind", json={"referrer_code": buyer_code}, headers=member(referrer)
    )
    assert cycle.json()["error"]["code"] == "referral_cycle"

    sku = await product(http, suite, stock=10, price_fen=10_000)
    detail = (
        await http.get(f"{suite.catalog}/internal/v1/catalog/skus", params={"ids": sku})
    ).json()
    product_id, category_id = detail["items"][0]["product_id"], detail["items"][0]["category_id"]
    admin = f"{suite.marketing}/admin/v1/marketing/referrals"
    for scope, target, rate in (("category", category_id, 1_000), ("product", product_id, 500)):
        put = await http.put(
            f"{admin}/rates/{scope}/{target}", json={"rate_bp": rate}, headers=STAFF
        )
        assert put.status_code == 200, put.text
    created = await create(http, suite, buyer, checkout(buyer, sku, 2))
    oid = created.json()["order_id"]
    await pay(http, suite, buyer, oid)
    await complete(http, suite, buyer, oid)
    referrer_id = referrer["X-Auth-Member-Id"]

    async def entries(n: int) -> list[dict[str, Any]] | None:
        found = await http.get(
            f"{admin}/commissions", params={"referrer_id": referrer_id}, headers=STAFF
        )
        items = found.json()["items"]
        return items if len(items) == n else None

    [commission] = await eventually(lambda: entries(1), timeout=60, interval=0.3)
    assert (
        commission["amount_fen"] == 1_000 and commission["kind"] == "commission"
    )  # 5% of 200 yuan
    # One unit back: half the commission reversed.
    sale = await http.post(
        f"{suite.order}/api/v1/orders/{oid}/after-sales",
        headers=member(buyer),
        json={"kind": "refund_only", "items": [{"sku_id": sku, "quantity": 1}], "reason": "不想要"},
    )
    assert sale.status_code == 201, sale.text
    approved = await http.post(
        f"{suite.order}/admin/v1/orders/after-sales/{sale.json()['id']}/approve",
        headers=STAFF,
        json={},
    )
    assert approved.status_code == 200, approved.text
    both = await eventually(lambda: entries(2), timeout=90, interval=0.3)
    reversal = next(e for e in both if e["kind"] == "reversal")
    assert reversal["amount_fen"] == -500
    mine = (await http.get(f"{base}/me", headers=member(referrer))).json()
    assert mine["pending_fen"] == 500 and mine["referred_members"] == 1
    settles = await asyncio.gather(
        *(
            http.post(f"{admin}/settlements", json={"referrer_id": referrer_id}, headers=STAFF)
            for _ in range(3)
        )
    )
    assert sorted(s.status_code for s in settles) == [201, 409, 409]
    [paid] = [s.json() for s in settles if s.status_code == 201]
    assert paid["amount_fen"] == 500 and paid["entries"] == 2
    mine = (await http.get(f"{base}/me", headers=member(referrer))).json()
    assert mine["pending_fen"] == 0 and mine["settled_fen"] == 500


async def test_an_abandoned_cart_gets_one_coupon_and_message_per_window(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    template = await http.post(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates",
        headers=STAFF,
        json={"name": "回来看看", "kind": "fixed", "off_fen": 500, "valid_days": 7},
    )
    assert template.status_code == 201, template.text
    port = str(free_port())
    procs = Processes(
        env={
            **suite.env,
            "MARKETING_HTTP_PORT": port,
            "MARKETING_ABANDONED_CART_AFTER_S": "3600",
            "MARKETING_ABANDONED_CART_WINDOW_S": "86400",
            "MARKETING_ABANDONED_CART_COUPON_TEMPLATE_ID": template.json()["id"],
            "MARKETING_ABANDONED_CART_MESSAGE_TEMPLATE_ID": MESSAGE_TEMPLATE,
        }
    )
    procs.start("act-marketing-carts", *uvicorn("marketing.main:create_app", port))
    try:
        marketing = f"http://127.0.0.1:{port}"
        _wait_http(f"{marketing}/healthz", timeout=60)
        login = (await http.post(f"{suite.sim}/sandbox/login-code", json={})).json()
        signed = await http.post(
            f"{suite.member}/api/v1/auth/wechat/login", json={"code": login["code"]}
        )
        me = {"X-Auth-Member-Id": signed.json()["member"]["id"]}
        fresh = await shopper(http, suite)
        sku = await product(http, suite, stock=5)
        for who in (me, fresh):
            put = await http.put(
                f"{suite.order}/api/v1/cart/items/{sku}", json={"quantity": 2}, headers=who
            )
            assert put.status_code == 200, put.text
        await http.post(
            f"{suite.sim}/sandbox/subscriptions",
            json={"openid": login["openid"], "template_id": MESSAGE_TEMPLATE, "times": 5},
        )
        await sql(
            engines["order"],
            "UPDATE cart_lines SET added_at = now() - interval '2 hours',"
            " updated_at = now() - interval '2 hours' WHERE member_id = :m",
            m=me["X-Auth-Member-Id"],
        )
        scans = await asyncio.gather(
            *(
                http.post(f"{marketing}/admin/v1/marketing/abandoned-carts/scan", headers=STAFF)
                for _ in range(3)
            )
        )
        assert all(s.status_code == 200 for s in scans), [s.text for s in scans]
        offers = (
            await http.get(
                f"{marketing}/admin/v1/marketing/abandoned-carts/offers",
                params={"member_id": me["X-Auth-Member-Id"]},
                headers=STAFF,
            )
        ).json()
        assert len(offers) == 1 and offers[0]["status"] == "offered" and offers[0]["coupon_id"]
        fresh_offers = (
            await http.get(
                f"{marketing}/admin/v1/marketing/abandoned-carts/offers",
                params={"member_id": fresh["X-Auth-Member-Id"]},
                headers=STAFF,
            )
        ).json()
        assert fresh_offers == []  # a cart touched just now is not abandoned
        sent = (
            await http.get(f"{suite.sim}/sandbox/messages", params={"openid": login["openid"]})
        ).json()
        assert len(sent) == 1 and sent[0]["template_id"] == MESSAGE_TEMPLATE
        coupons = await http.get(f"{suite.marketing}/api/v1/marketing/coupons/mine", headers=me)
        if coupons.status_code == 200:
            assert any(
                c.get("id") == offers[0]["coupon_id"]
                or c.get("coupon_id") == offers[0]["coupon_id"]
                for c in coupons.json()["items"]
            )
        # The cart changes and is left again within the window: no second offer.
        await sql(
            engines["order"],
            "UPDATE cart_lines SET updated_at = now() - interval '90 minutes' WHERE member_id = :m",
            m=me["X-Auth-Member-Id"],
        )
        again = await http.post(
            f"{marketing}/admin/v1/marketing/abandoned-carts/scan", headers=STAFF
        )
        assert again.status_code == 200
        offers = (
            await http.get(
                f"{marketing}/admin/v1/marketing/abandoned-carts/offers",
                params={"member_id": me["X-Auth-Member-Id"]},
                headers=STAFF,
            )
        ).json()
        assert len(offers) == 1
    finally:
        procs.stop_all()
