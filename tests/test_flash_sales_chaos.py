"""The flash-sale race under failure: one order consumer is killed with SIGKILL and
restarted mid-race, and the broker drops for a few seconds (the embedded broker keeps
nothing across a restart: events in flight are lost, which the reconciler must make good).
Still exactly the units sold, every accepted ticket final, no unit lost.
The suite runs on a broker of its own (``private_broker``)."""

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
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
    token,
)
from tests.shopkit import product
from tests.support import PrivateBroker

UNITS = 100
MEMBERS = 600


@pytest.fixture(scope="module")
def suite(envs: dict[str, dict[str, str]], private_broker: PrivateBroker) -> Iterator[FlashSuite]:
    own = {service: private_broker.env(env) for service, env in envs.items()}
    yield from start_suite(own, "chaos", flash_consumers=2)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        yield client


async def test_race_survives_a_killed_consumer_and_a_broker_outage(
    http: httpx.AsyncClient,
    suite: FlashSuite,
    private_broker: PrivateBroker,
    engines: dict[str, AsyncEngine],
) -> None:
    sku = await product(http, suite, stock=UNITS + 50)
    sale = await create_sale(http, suite, sku, UNITS)
    members = [me() for _ in range(MEMBERS)]
    tokens = await asyncio.gather(*(token(http, suite, sale["id"], m) for m in members))

    async def race() -> list[httpx.Response]:
        gate = asyncio.Semaphore(32)

        async def one(who: dict[str, str], t: str) -> httpx.Response:
            async with gate:
                return await buy(http, suite, sale, who, t)

        return await asyncio.gather(*(one(m, t) for m, t in zip(members, tokens, strict=True)))

    racing = asyncio.create_task(race())
    await asyncio.sleep(0.3)
    # One order consumer dies without a word, mid-race, and comes back.
    suite.procs.signal("chaos-order-flash-0", signal.SIGKILL)
    suite.procs.kill("chaos-order-flash-0")
    answers = await racing
    suite.procs.start("chaos-order-flash-0", "-m", "order.flash_sales")
    # The broker drops for a few seconds while tickets are on their way to orders.
    private_broker.drop()
    await asyncio.sleep(3)
    private_broker.restore()

    accepted = {
        r.json()["ticket"]: m for r, m in zip(answers, members, strict=True) if r.status_code == 202
    }
    refused = [r.json()["error"]["code"] for r in answers if r.status_code != 202]
    assert len(accepted) == UNITS
    assert set(refused) == {"sold_out"} and len(refused) == MEMBERS - UNITS

    states = await all_final(http, suite, accepted, timeout=150)
    reasons = {s.get("reason") for s in states.values() if s["status"] == "rejected"}
    assert None not in reasons  # a rejection always says why
    ordered = [s for s in states.values() if s["status"] == "ordered"]
    orders = await orders_of_sale(engines["order"], sale["id"])
    assert len(ordered) == len(orders) == UNITS  # exactly the units, one order per ticket
    assert sorted(o[0] for o in orders) == sorted(accepted)
    assert len({o[1] for o in orders}) == UNITS
    detail = await admin_sale(http, suite, sale["id"])
    assert detail["remaining_units"] == 0
    assert detail["tickets"]["units_held"] == UNITS  # no unit lost, none sold twice
