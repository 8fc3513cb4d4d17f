"""Shopping helpers for tests that run the real catalog, member, order (and payment)
processes: products, shoppers with an address, orders, and publishing an event. Requests
carry the X-Auth-* headers the gateway would set."""

import uuid
from typing import Any, Protocol

import httpx
from shared.events import Event
from shared.kafka import EventProducer
from shared.settings import InfraSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

STAFF = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "admin"}


class Shop(Protocol):
    """Where the processes listen (base URLs) and the WeChat simulator."""

    @property
    def order(self) -> str: ...

    @property
    def catalog(self) -> str: ...

    @property
    def member(self) -> str: ...

    @property
    def sim(self) -> str: ...


async def shopper(http: httpx.AsyncClient, suite: Shop, points: int = 0) -> dict[str, str]:
    """A new member with a default address (and ``points``): the headers the gateway sets."""
    code = (await http.post(f"{suite.sim}/sandbox/login-code", json={})).json()["code"]
    login = await http.post(f"{suite.member}/api/v1/auth/wechat/login", json={"code": code})
    member_id = login.json()["member"]["id"]
    me = {"X-Auth-Member-Id": member_id}
    address = await http.post(
        f"{suite.member}/api/v1/members/me/addresses",
        headers=me,
        json={
            "recipient_name": "李四",
            "phone": "13900001111",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 1 号",
            "postal_code": "310000",
        },
    )
    assert address.status_code == 201, address.text
    if points:
        given = await http.post(
            f"{suite.member}/admin/v1/members/{member_id}/points/adjustments",
            headers=STAFF,
            json={"delta": points, "reason": "test", "reference": f"grant-{uuid.uuid4()}"},
        )
        assert given.status_code == 201, given.text
    return {**me, "X-Address-Id": address.json()["id"]}


async def product(
    http: httpx.AsyncClient, suite: Shop, *, stock: int, price_fen: int = 10_000
) -> str:
    """A product on sale with one SKU: its sku id."""
    category = await http.post(
        f"{suite.catalog}/admin/v1/catalog/categories",
        headers=STAFF,
        json={"name": f"类目{uuid.uuid4().hex[:6]}"},
    )
    assert category.status_code == 201, category.text
    created = await http.post(
        f"{suite.catalog}/admin/v1/catalog/products",
        headers=STAFF,
        json={
            "name": f"测试连衣裙{uuid.uuid4().hex[:6]}",
            "category_id": category.json()["id"],
            "status": "on_sale",
            "specs": [{"name": "颜色", "values": ["红"]}],
            "skus": [{"specs": {"颜色": "红"}, "price_fen": price_fen, "stock": stock}],
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["skus"][0]["id"])


async def available(http: httpx.AsyncClient, suite: Shop, sku_id: str) -> int:
    found = await http.get(f"{suite.catalog}/internal/v1/catalog/skus", params={"ids": sku_id})
    return int(found.json()["items"][0]["available"])


def checkout(me: dict[str, str], sku_id: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"sku_id": sku_id, "quantity": quantity}],
        "address_id": me["X-Address-Id"],
        **extra,
    }


def member(me: dict[str, str]) -> dict[str, str]:
    return {"X-Auth-Member-Id": me["X-Auth-Member-Id"]}


async def create(
    http: httpx.AsyncClient,
    suite: Shop,
    me: dict[str, str],
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await http.post(
        f"{suite.order}/api/v1/orders",
        json=body,
        headers={**member(me), "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def publish(envs: dict[str, dict[str, str]], event: Event) -> None:
    """Publish ``event`` to Kafka as a service's relay would."""
    producer = EventProducer(
        InfraSettings(
            kafka_bootstrap_servers=envs["order"]["ORDER_KAFKA_BOOTSTRAP_SERVERS"],
            kafka_enable_idempotence=False,
        )
    )
    await producer.start()
    try:
        await producer.publish(event)
    finally:
        await producer.stop()


async def order_statuses(order_db: AsyncEngine, me: dict[str, str]) -> list[str]:
    """The statuses of the member's orders, sorted."""
    async with AsyncSession(order_db) as session:
        rows = await session.scalars(
            text("SELECT status FROM orders WHERE member_id = :m"), {"m": me["X-Auth-Member-Id"]}
        )
        return sorted(rows.all())
