"""Marketing's coupons and promotions against the real marketing and catalog processes,
PostgreSQL and Kafka: templates, claims under real concurrency, locks, the order events
that use and return coupons, expiry, and quotes. Requests carry the X-Auth-* headers the
gateway would set."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from shared.events import Event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import _wait_http
from tests.shopkit import STAFF, product, publish
from tests.support import Processes, eventually

OPERATOR = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "operator"}


@dataclass
class Suite:
    marketing: str
    catalog: str
    member: str
    sim: str
    order: str


@pytest.fixture(scope="module")
def suite(envs: dict[str, dict[str, str]]) -> Iterator[Suite]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    procs = Processes(env={**merged, "MARKETING_COUPON_SWEEP_INTERVAL_S": "0.3"})
    ports = {s: envs[s][f"{s.upper()}_HTTP_PORT"] for s in ("catalog", "marketing")}
    for service, port in ports.items():
        procs.start(
            f"coupons-{service}",
            *("-m", "uvicorn", f"{service}.main:create_app", "--factory", "--port", port),
        )
    procs.start("coupons-marketing-consumer", "-m", "marketing.consumer")
    try:
        urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        for url in urls.values():
            _wait_http(f"{url}/healthz", timeout=60)
        yield Suite(urls["marketing"], urls["catalog"], "", "", "")
    finally:
        procs.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def member_headers(member_id: uuid.UUID | None = None) -> dict[str, str]:
    return {"X-Auth-Member-Id": str(member_id or uuid.uuid4())}


async def template(http: httpx.AsyncClient, suite: Suite, **terms: Any) -> dict[str, Any]:
    body = {
        "name": f"券{uuid.uuid4().hex[:6]}",
        "kind": "threshold",
        "off_fen": 1000,
        "min_spend_fen": 5000,
        "validity": "relative",
        "valid_days": 7,
        **terms,
    }
    made = await http.post(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates", json=body, headers=OPERATOR
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def claim(
    http: httpx.AsyncClient, suite: Suite, template_id: str, member: dict[str, str]
) -> httpx.Response:
    return await http.post(
        f"{suite.marketing}/api/v1/marketing/coupons/{template_id}/claim", headers=member
    )


async def coupon_status(engines: dict[str, AsyncEngine], coupon_id: str) -> str:
    async with AsyncSession(engines["marketing"]) as session:
        return str(
            await session.scalar(text("SELECT status FROM coupons WHERE id = :c"), {"c": coupon_id})
        )


async def test_fifty_concurrent_claims_of_a_one_per_member_coupon_make_exactly_one(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    t = await template(http, suite, per_member_limit=1, total_quantity=100)
    me = member_headers()
    answers = await asyncio.gather(*(claim(http, suite, t["id"], me) for _ in range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 49, codes
    refused = {a.json()["error"]["code"] for a in answers if a.status_code == 409}
    assert refused == {"coupon_limit_reached"}
    async with AsyncSession(engines["marketing"]) as session:
        held = await session.scalar(
            text("SELECT count(*) FROM coupons WHERE template_id = :t"), {"t": t["id"]}
        )
        issued = await session.scalar(
            text("SELECT issued_count FROM coupon_templates WHERE id = :t"), {"t": t["id"]}
        )
    assert held == 1 and issued == 1


async def test_total_quantity_is_never_exceeded_under_concurrency(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    t = await template(http, suite, per_member_limit=2, total_quantity=7)
    members = [member_headers() for _ in range(12)]
    answers = await asyncio.gather(
        *(claim(http, suite, t["id"], m) for m in members for _ in range(2))
    )
    won = [a for a in answers if a.status_code == 201]
    assert len(won) == 7
    assert {a.json()["error"]["code"] for a in answers if a.status_code != 201} == {
        "coupon_sold_out"
    }
    async with AsyncSession(engines["marketing"]) as session:
        held = await session.scalar(
            text("SELECT count(*) FROM coupons WHERE template_id = :t"), {"t": t["id"]}
        )
        claims = await session.scalar(
            text("SELECT coalesce(sum(claimed), 0) FROM coupon_claims WHERE template_id = :t"),
            {"t": t["id"]},
        )
    assert held == 7 and claims == 7  # refused claims left no allowance taken
    listed = await http.get(f"{suite.marketing}/api/v1/marketing/coupons?page_size=100")
    assert [x["remaining"] for x in listed.json()["items"] if x["id"] == t["id"]] == [0]


async def test_claimable_list_my_coupons_and_template_rules(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    t = await template(http, suite, per_member_limit=2, total_quantity=10)
    staff_only = await template(http, suite, claimable=False)
    paused = await template(http, suite, status="paused")
    listed = (await http.get(f"{suite.marketing}/api/v1/marketing/coupons?page_size=100")).json()
    ids = {x["id"]: x for x in listed["items"]}
    assert t["id"] in ids and ids[t["id"]]["per_member_limit"] == 2
    assert ids[t["id"]]["remaining"] == 10
    assert staff_only["id"] not in ids and paused["id"] not in ids
    me = member_headers()
    assert (await claim(http, suite, staff_only["id"], me)).json()["error"]["code"] == (
        "coupon_not_claimable"
    )
    assert (await claim(http, suite, paused["id"], me)).status_code == 409
    assert (await claim(http, suite, str(uuid.uuid4()), me)).status_code == 404
    first, second = await claim(http, suite, t["id"], me), await claim(http, suite, t["id"], me)
    assert first.status_code == second.status_code == 201
    assert (await claim(http, suite, t["id"], me)).json()["error"]["code"] == "coupon_limit_reached"
    seen = await http.get(f"{suite.marketing}/api/v1/marketing/coupons?page_size=100", headers=me)
    assert [x["claimed"] for x in seen.json()["items"] if x["id"] == t["id"]] == [2]
    assert ids[t["id"]]["claimed"] is None  # anonymous
    mine = await http.get(
        f"{suite.marketing}/api/v1/marketing/my-coupons?status=available", headers=me
    )
    assert mine.status_code == 200 and mine.json()["total"] == 2
    coupon = mine.json()["items"][0]
    assert coupon["min_spend_fen"] == 5000 and coupon["status"] == "available"
    valid = datetime.fromisoformat(coupon["valid_until"]) - datetime.fromisoformat(
        coupon["valid_from"]
    )
    assert valid == timedelta(days=7)
    assert (
        await http.get(f"{suite.marketing}/api/v1/marketing/my-coupons?status=used", headers=me)
    ).json()["total"] == 0
    # Staff: grants ignore the per-member limit and the claimable flag, not the quantity.
    granted = await http.post(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates/{staff_only['id']}/grants",
        json={"member_ids": [me["X-Auth-Member-Id"]]},
        headers=OPERATOR,
    )
    assert granted.status_code == 201 and granted.json()["coupons"][0]["source"] == "granted"
    shrink = await http.patch(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates/{t['id']}",
        json={"total_quantity": 1},
        headers=OPERATOR,
    )
    assert shrink.status_code == 422 and shrink.json()["error"]["code"] == "coupon_template_invalid"
    ended = await http.patch(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates/{t['id']}",
        json={"status": "ended"},
        headers=OPERATOR,
    )
    assert ended.json()["status"] == "ended"
    assert (await claim(http, suite, t["id"], member_headers())).status_code == 409


@pytest.mark.parametrize(
    "terms",
    [
        {"kind": "threshold", "min_spend_fen": 0},
        {"kind": "percent", "rate_bp": 10_000},
        {"kind": "fixed", "off_fen": 0},
        {"scope": "products"},  # no scope_ids
        {"validity": "fixed", "valid_days": None},
        {"validity": "fixed", "valid_days": None, "valid_until": "2020-01-01T00:00:00Z"},
        {"per_member_limit": 0},
    ],
)
async def test_bad_templates_are_clear_422s(
    http: httpx.AsyncClient, suite: Suite, terms: dict[str, Any]
) -> None:
    body = {"name": "坏券", "kind": "threshold", "off_fen": 1000, "min_spend_fen": 5000,
            "validity": "relative", "valid_days": 7, **terms}  # fmt: skip
    answer = await http.post(
        f"{suite.marketing}/admin/v1/marketing/coupon-templates", json=body, headers=OPERATOR
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] in ("validation_error", "coupon_template_invalid")


async def test_staff_routes_need_the_operator_role(http: httpx.AsyncClient, suite: Suite) -> None:
    cs = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "customer_service"}
    answer = await http.get(f"{suite.marketing}/admin/v1/marketing/coupon-templates", headers=cs)
    assert answer.status_code == 403
    anon = await http.post(f"{suite.marketing}/api/v1/marketing/coupons/{uuid.uuid4()}/claim")
    assert anon.status_code == 401


async def lock(
    http: httpx.AsyncClient, suite: Suite, coupon_id: str, member_id: str, order_id: str
) -> httpx.Response:
    return await http.post(
        f"{suite.marketing}/internal/v1/marketing/coupons/{coupon_id}/lock",
        json={"member_id": member_id, "order_id": order_id, "discount_fen": 1000},
    )


async def test_lock_is_exclusive_idempotent_and_released_by_order_id(
    http: httpx.AsyncClient, suite: Suite, engines: dict[str, AsyncEngine]
) -> None:
    t = await template(http, suite)
    me = member_headers()
    mid = me["X-Auth-Member-Id"]
    coupon = (await claim(http, suite, t["id"], me)).json()
    order_a, order_b = str(uuid.uuid4()), str(uuid.uuid4())
    racing = await asyncio.gather(
        *(lock(http, suite, coupon["id"], mid, o) for o in [order_a, order_b] * 5)
    )
    winners = {r.json()["order_id"] for r in racing if r.status_code == 200}
    assert len(winners) == 1, [r.text for r in racing]
    loser = order_b if winners == {order_a} else order_a
    assert all(
        r.json()["error"]["code"] == "coupon_unavailable" for r in racing if r.status_code != 200
    )
    winner = winners.pop()
    assert (await lock(http, suite, coupon["id"], mid, winner)).status_code == 200  # again: fine
    stranger = await lock(http, suite, coupon["id"], str(uuid.uuid4()), winner)
    assert stranger.status_code == 404
    nothing = await http.post(
        f"{suite.marketing}/internal/v1/marketing/coupon-locks/{loser}/release"
    )
    assert nothing.status_code == 200 and nothing.json()["status"] == "none"
    assert await coupon_status(engines, coupon["id"]) == "locked"
    released = await http.post(
        f"{suite.marketing}/internal/v1/marketing/coupon-locks/{winner}/release"
    )
    assert released.json()["status"] == "available"
    assert await coupon_status(engines, coupon["id"]) == "available"
    again = await http.post(
        f"{suite.marketing}/internal/v1/marketing/coupon-locks/{winner}/release"
    )
    assert again.json()["status"] == "none"


def order_event(kind: str, order_id: str, **payload: Any) -> Event:
    return Event(
        type=f"order.{kind}",
        aggregate_id=order_id,
        payload={"order_id": order_id, "member_id": str(uuid.uuid4()), **payload},
    )


async def test_order_events_use_and_return_coupons_once(
    http: httpx.AsyncClient,
    suite: Suite,
    engines: dict[str, AsyncEngine],
    envs: dict[str, dict[str, str]],
) -> None:
    t = await template(http, suite, per_member_limit=3)
    me = member_headers()
    mid = me["X-Auth-Member-Id"]
    paid_c, cancelled_c, refunded_c = [
        (await claim(http, suite, t["id"], me)).json()["id"] for _ in range(3)
    ]
    orders = {c: str(uuid.uuid4()) for c in (paid_c, cancelled_c, refunded_c)}
    for c, o in orders.items():
        assert (await lock(http, suite, c, mid, o)).status_code == 200

    paid = order_event("paid", orders[paid_c], total_fen=9000)
    await publish(envs, paid)
    await publish(envs, paid)  # redelivered: one effect
    await publish(envs, order_event("cancelled", orders[cancelled_c], reason="timeout"))
    await publish(envs, order_event("paid", orders[refunded_c], total_fen=9000))

    async def settled() -> bool:
        return (
            await coupon_status(engines, paid_c) == "used"
            and await coupon_status(engines, cancelled_c) == "available"
            and await coupon_status(engines, refunded_c) == "used"
        )

    await eventually(settled, timeout=60)
    # A partial refund keeps the coupon used; the full refund gives it back.
    await publish(envs, order_event("refunded", orders[refunded_c], full=False, refund_fen=100))
    await publish(envs, order_event("refunded", orders[refunded_c], full=True, refund_fen=8900))

    async def returned() -> bool:
        return await coupon_status(engines, refunded_c) == "available"

    await eventually(returned, timeout=60)
    async with AsyncSession(engines["marketing"]) as session:
        used_events = await session.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE type = 'marketing.coupon_used'"
                " AND aggregate_id = :c"
            ),
            {"c": paid_c},
        )
        returned_events = (
            await session.execute(
                text(
                    "SELECT aggregate_id, payload->>'reason' FROM outbox"
                    " WHERE type = 'marketing.coupon_returned' AND aggregate_id IN (:a, :b)"
                ),
                {"a": cancelled_c, "b": refunded_c},
            )
        ).all()
        used_count = await session.scalar(
            text("SELECT used_count FROM coupon_templates WHERE id = :t"), {"t": t["id"]}
        )
    assert used_events == 1
    assert sorted(r[1] for r in returned_events) == ["order_cancelled", "order_refunded"]
    assert used_count == 1  # the refunded one was counted back
    mine = await http.get(f"{suite.marketing}/api/v1/marketing/my-coupons?status=used", headers=me)
    assert [x["id"] for x in mine.json()["items"]] == [paid_c]


async def test_coupons_expire_by_the_sweeper_and_a_late_return_is_expired(
    http: httpx.AsyncClient,
    suite: Suite,
    engines: dict[str, AsyncEngine],
    envs: dict[str, dict[str, str]],
) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    t = await template(http, suite, validity="fixed", valid_days=None, valid_until=until,
                       per_member_limit=2)  # fmt: skip
    me = member_headers()
    idle = (await claim(http, suite, t["id"], me)).json()["id"]
    held = (await claim(http, suite, t["id"], me)).json()["id"]
    order_id = str(uuid.uuid4())
    assert (await lock(http, suite, held, me["X-Auth-Member-Id"], order_id)).status_code == 200

    async def expired() -> bool:
        return await coupon_status(engines, idle) == "expired"

    await eventually(expired, timeout=60)
    assert await coupon_status(engines, held) == "locked"  # a lock outlives the end
    await publish(envs, order_event("cancelled", order_id, reason="timeout"))

    async def back_expired() -> bool:
        return await coupon_status(engines, held) == "expired"

    await eventually(back_expired, timeout=60)
    listed = await http.get(
        f"{suite.marketing}/api/v1/marketing/my-coupons?status=expired", headers=me
    )
    assert listed.json()["total"] == 2


async def product_ids(http: httpx.AsyncClient, suite: Suite, sku: str) -> tuple[str, list[str]]:
    found = await http.get(f"{suite.catalog}/internal/v1/catalog/skus", params={"ids": sku})
    item = found.json()["items"][0]
    return item["product_id"], item["category_path"]


async def promotion(http: httpx.AsyncClient, suite: Suite, **body: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    made = await http.post(
        f"{suite.marketing}/admin/v1/marketing/promotions",
        json={
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
            **body,
        },
        headers=OPERATOR,
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_quotes_stack_promotions_level_and_coupon_and_suggest_the_best(
    http: httpx.AsyncClient, suite: Suite
) -> None:
    shoes = await product(http, suite, stock=10, price_fen=10_000)
    shirt = await product(http, suite, stock=10, price_fen=5_000)
    shoe_product, _ = await product_ids(http, suite, shoes)
    _, shirt_categories = await product_ids(http, suite, shirt)
    await promotion(http, suite, name="鞋限时9折", scope="products", scope_ids=[shoe_product],
                    rules={"kind": "limited_time", "rate_bp": 9000})  # fmt: skip
    ladder = await promotion(
        http,
        suite,
        name="衣满50减5",
        scope="categories",
        scope_ids=[shirt_categories[0]],
        rules={"kind": "full_reduction", "tiers": [{"threshold_fen": 5000, "off_fen": 500}]},
    )
    me = member_headers()
    small = await template(http, suite, kind="fixed", off_fen=300, min_spend_fen=0)
    big = await template(http, suite, kind="percent", rate_bp=8000, max_off_fen=2000,
                         min_spend_fen=10_000)  # fmt: skip
    small_c = (await claim(http, suite, small["id"], me)).json()["id"]
    big_c = (await claim(http, suite, big["id"], me)).json()["id"]

    async def quote(coupon_id: str | None, level: dict[str, Any] | None = None) -> httpx.Response:
        return await http.post(
            f"{suite.marketing}/internal/v1/marketing/quotes",
            json={
                "member_id": me["X-Auth-Member-Id"],
                "level": level,
                "lines": [
                    {"sku_id": shoes, "quantity": 1, "unit_price_fen": 10_000},
                    {"sku_id": shirt, "quantity": 1, "unit_price_fen": 5_000},
                ],
                "coupon_id": coupon_id,
            },
        )

    plain = (await quote(None)).json()
    # shoes 10000 → 9000 (限时9折); shirt 5000 → 4500 (满50减5): 13500.
    assert plain["total_fen"] == 13_500 and plain["coupon"] is None
    assert plain["suggested_coupon"]["coupon_id"] == big_c  # 20% of 13500 capped at 2000
    assert plain["suggested_coupon"]["discount_fen"] == 2000
    with_big = (await quote(big_c)).json()
    assert with_big["total_fen"] == 11_500 and with_big["coupon"]["discount_fen"] == 2000
    assert sum(x["paid_fen"] for x in with_big["lines"]) == 11_500
    # A level better than the limited-time price replaces it (never both).
    gold = (await quote(None, {"name": "gold", "discount_rate_bp": 8000})).json()
    assert gold["lines"][0]["promo_unit_price_fen"] == 8000
    assert gold["lines"][1]["promo_unit_price_fen"] == 4000  # then below the shirt ladder
    assert gold["total_fen"] == 12_000
    # Coupons that are not the member's, or not applicable, are refused.
    stranger = await template(http, suite, kind="fixed", off_fen=100, min_spend_fen=0)
    other = (await claim(http, suite, stranger["id"], member_headers())).json()["id"]
    refused = await quote(other)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "coupon_not_applicable"
    # Pausing the ladder takes it out of the next quote.
    paused = await http.patch(
        f"{suite.marketing}/admin/v1/marketing/promotions/{ladder['id']}",
        json={"status": "paused"},
        headers=OPERATOR,
    )
    assert paused.status_code == 200
    assert (await quote(small_c)).json()["total_fen"] == 9000 + 5000 - 300
    running = await http.get(f"{suite.marketing}/api/v1/marketing/promotions")
    assert ladder["id"] not in {p["id"] for p in running.json()}


async def test_bad_promotions_are_clear_422s(http: httpx.AsyncClient, suite: Suite) -> None:
    now = datetime.now(UTC)
    window = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()}
    for rules in (
        {"kind": "limited_time", "rate_bp": 10_000},
        {"kind": "full_reduction", "tiers": []},
        {"kind": "full_reduction", "tiers": [{"threshold_fen": 100, "off_fen": 200}]},
        {"kind": "full_reduction", "repeat": True,
         "tiers": [{"threshold_fen": 100, "off_fen": 10}, {"threshold_fen": 200, "off_fen": 30}]},
        {"kind": "member_price", "level_rates": {}},
        {"kind": "nonsense"},
    ):  # fmt: skip
        answer = await http.post(
            f"{suite.marketing}/admin/v1/marketing/promotions",
            json={"name": "坏", "rules": rules, **window},
            headers=OPERATOR,
        )
        assert answer.status_code == 422, (rules, answer.text)
    admin = await http.get(f"{suite.marketing}/admin/v1/marketing/promotions", headers=STAFF)
    assert admin.status_code == 200


async def test_a_lock_no_order_confirms_is_given_back_and_a_late_order_takes_it_again(
    http: httpx.AsyncClient,
    suite: Suite,
    engines: dict[str, AsyncEngine],
    envs: dict[str, dict[str, str]],
) -> None:
    t = await template(http, suite, per_member_limit=2)
    me = member_headers()
    mid = me["X-Auth-Member-Id"]
    orphan, kept = [(await claim(http, suite, t["id"], me)).json()["id"] for _ in range(2)]
    orphan_order, kept_order = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await lock(http, suite, orphan, mid, orphan_order)).status_code == 200
    assert (await lock(http, suite, kept, mid, kept_order)).status_code == 200
    created = order_event("created", kept_order, coupon_id=kept)
    created.payload["member_id"] = mid
    await publish(envs, created)

    async def confirmed() -> bool:
        async with AsyncSession(engines["marketing"]) as session:
            return bool(
                await session.scalar(
                    text("SELECT lock_confirmed FROM coupons WHERE id = :c"), {"c": kept}
                )
            )

    await eventually(confirmed, timeout=60)
    # Both locks are old now; only the one no order.created confirmed is given back.
    async with AsyncSession(engines["marketing"]) as session, session.begin():
        await session.execute(
            text("UPDATE coupons SET locked_at = now() - interval '1 day' WHERE id IN (:a, :b)"),
            {"a": orphan, "b": kept},
        )

    async def orphan_back() -> bool:
        return await coupon_status(engines, orphan) == "available"

    await eventually(orphan_back, timeout=60)
    assert await coupon_status(engines, kept) == "locked"
    # The order did exist after all (its event was late): it takes the coupon again.
    late = order_event("created", orphan_order, coupon_id=orphan)
    late.payload["member_id"] = mid
    await publish(envs, late)

    async def relocked() -> bool:
        return await coupon_status(engines, orphan) == "locked"

    await eventually(relocked, timeout=60)
