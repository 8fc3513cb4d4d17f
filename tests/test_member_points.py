"""The points ledger against real PostgreSQL: the balance is always the ledger's sum and never
negative, whatever sequence (some of it concurrent) of earn/hold/commit/release/reverse runs;
and order events earn once, reverse on refund, and move levels."""

import asyncio
import random
import uuid
from typing import Any

import pytest
from devstack.infra import Infra
from devstack.stack import database_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from member.levels import service as levels_service
from member.levels.schemas import LevelCreate
from member.models import Member
from member.points import service
from member.points.handlers import points_handlers
from member.settings import MemberSettings
from shared.db import create_engine, create_sessionmaker
from shared.errors import AppError
from shared.events import Event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import DB_PREFIX

REFS = 4
op = st.one_of(
    st.tuples(st.just("earn"), st.integers(0, 40), st.integers(0, REFS)),
    st.tuples(st.just("hold"), st.integers(1, 50), st.integers(0, REFS)),
    st.tuples(st.just("commit"), st.just(0), st.integers(0, REFS)),
    st.tuples(st.just("release"), st.just(0), st.integers(0, REFS)),
    st.tuples(st.just("reverse"), st.integers(0, 30), st.integers(0, REFS)),
)
# Batches run one after another; the operations inside a batch run concurrently.
batches = st.lists(st.lists(op, min_size=1, max_size=4), min_size=1, max_size=8)


async def new_member(engine: AsyncEngine) -> uuid.UUID:
    member_id = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        session.add(Member(id=member_id, openid=f"o-pts-{uuid.uuid4().hex}"))
    return member_id


async def apply(engine: AsyncEngine, member_id: uuid.UUID, step: tuple[str, int, int]) -> None:
    kind, amount, ref = step
    reference = f"order-{ref}"
    async with create_sessionmaker(engine)() as session:
        try:
            async with session.begin():
                if kind == "earn":
                    await service.earn(session, member_id, amount, reference=reference, reason="t")
                elif kind == "hold":
                    await service.hold(session, member_id, amount, reference=reference)
                elif kind == "commit":
                    await service.commit(session, member_id, reference=reference)
                elif kind == "release":
                    await service.release(session, member_id, reference=reference)
                else:
                    await service.reverse(
                        session,
                        member_id,
                        earn_reference=reference,
                        reference=f"refund-{ref}-{amount % 3}",
                        points=amount,
                    )
        except AppError:
            pass  # refused operations (insufficient points, settled holds) change nothing


async def check_invariants(engine: AsyncEngine, member_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """
                    SELECT m.points_balance, m.points_held,
                      (SELECT coalesce(sum(delta), 0) FROM points_ledger WHERE member_id = m.id),
                      (SELECT coalesce(sum(points), 0) FROM points_holds
                         WHERE member_id = m.id AND status = 'held'),
                      (SELECT count(*) FROM points_ledger WHERE member_id = m.id AND kind = 'earn'),
                      (SELECT count(DISTINCT reference) FROM points_ledger
                         WHERE member_id = m.id AND kind = 'earn'),
                      (SELECT min(balance_after) FROM points_ledger WHERE member_id = m.id)
                    FROM members m WHERE m.id = :id
                    """
                ),
                {"id": member_id},
            )
        ).one()
        over_reversed = await conn.scalar(
            text(
                """
                SELECT count(*) FROM points_ledger e WHERE e.member_id = :id AND e.kind = 'earn'
                AND e.delta < (SELECT coalesce(sum(-r.delta), 0) FROM points_ledger r
                               WHERE r.member_id = e.member_id AND r.kind = 'reverse'
                               AND r.source_reference = e.reference)
                """
            ),
            {"id": member_id},
        )
    balance, held, ledger_sum, holds_sum, earns, earn_refs, min_after = row
    assert balance == ledger_sum, "the balance is the ledger's sum"
    assert balance >= 0 and (min_after is None or min_after >= 0), "never negative"
    assert held == holds_sum, "held points are the open holds"
    assert earns == earn_refs, "a reference earns once"
    assert over_reversed == 0, "a reversal never takes more than its earning gave"
    return {"balance": balance, "held": held}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=batches)
def test_ledger_invariants_hold_for_any_sequence(infra: Infra, plan: list[list[Any]]) -> None:
    async def run() -> None:
        engine = create_engine(infra.database_url(database_name("member", DB_PREFIX)), pool_size=4)
        try:
            member_id = await new_member(engine)
            for batch in plan:
                await asyncio.gather(*(apply(engine, member_id, step) for step in batch))
                await check_invariants(engine, member_id)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def test_concurrent_holds_never_overdraw(engines: dict[str, AsyncEngine]) -> None:
    engine = engines["member"]
    member_id = await new_member(engine)
    await apply(engine, member_id, ("earn", 100, 0))
    steps = [("hold", 30, i) for i in range(10)]
    random.shuffle(steps)
    await asyncio.gather(*(apply(engine, member_id, s) for s in steps))
    state = await check_invariants(engine, member_id)
    assert (state["balance"], state["held"]) == (10, 90)  # three of ten fit in 100


def order_event(event_type: str, member_id: uuid.UUID, order_id: str, **extra: Any) -> Event:
    return Event(
        type=event_type,
        aggregate_id=order_id,
        payload={"order_id": order_id, "member_id": str(member_id), **extra},
    )


async def test_order_events_earn_once_reverse_and_move_levels(
    engines: dict[str, AsyncEngine],
) -> None:
    engine = engines["member"]
    member_id = await new_member(engine)
    handlers = points_handlers(MemberSettings())
    threshold = 2_000_000 + random.randrange(1_000_000)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        level = await levels_service.create(
            session, LevelCreate(name=f"T{uuid.uuid4().hex[:8]}", min_growth=threshold)
        )
    try:
        order_id = str(uuid.uuid4())
        completed = order_event(
            "order.completed", member_id, order_id, paid_fen=threshold * 100 + 99
        )
        for _ in range(2):  # a redelivered or duplicated event earns once
            async with sessions() as session, session.begin():
                await handlers["order.completed"](session, completed)
        async with sessions() as session, session.begin():
            await handlers["order.refunded"](
                session,
                order_event(
                    "order.refunded",
                    member_id,
                    order_id,
                    refund_id="r1",
                    refund_fen=(threshold * 100 + 99) // 2,
                    paid_fen=threshold * 100 + 99,
                ),
            )
        state = await check_invariants(engine, member_id)
        paid, refunded = threshold * 100 + 99, (threshold * 100 + 99) // 2
        assert state["balance"] == threshold - threshold * refunded // paid  # pro rata
        async with engine.connect() as conn:
            member = (
                await conn.execute(
                    text("SELECT growth_value, level_id FROM members WHERE id = :id"),
                    {"id": member_id},
                )
            ).one()
            changed = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE type = 'member.level_changed'"
                    " AND aggregate_id = :id AND payload->>'to_level_id' = :level"
                ),
                {"id": str(member_id), "level": str(level.id)},
            )
            points_events = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE type = 'member.points_changed'"
                    " AND aggregate_id = :id"
                ),
                {"id": str(member_id)},
            )
        assert member.growth_value == threshold and member.level_id == level.id
        assert changed == 1
        assert points_events == 2  # earned, reversed
    finally:
        async with sessions() as session, session.begin():
            await levels_service.delete(session, level.id)


@pytest.mark.parametrize("event_type", ["order.paid", "order.cancelled"])
async def test_order_paid_commits_and_cancelled_releases_the_hold(
    engines: dict[str, AsyncEngine], event_type: str
) -> None:
    engine = engines["member"]
    member_id = await new_member(engine)
    await apply(engine, member_id, ("earn", 50, 0))
    await apply(engine, member_id, ("hold", 20, 7))
    handlers = points_handlers(MemberSettings())
    async with create_sessionmaker(engine)() as session, session.begin():
        await handlers[event_type](session, order_event(event_type, member_id, "order-7"))
        await handlers[event_type](session, order_event(event_type, member_id, "no-points-order"))
    state = await check_invariants(engine, member_id)
    expected = (30, 0) if event_type == "order.paid" else (50, 0)
    assert (state["balance"], state["held"]) == expected
