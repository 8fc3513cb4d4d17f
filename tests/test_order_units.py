"""Pure parts of order: the pricing computation and the state machine."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from order import pricing, states
from order.states import IllegalTransition, Status

lines = st.lists(
    st.builds(
        pricing.Line,
        sku_id=st.uuids().map(str),
        unit_price_fen=st.integers(min_value=0, max_value=5_000_000),
        quantity=st.integers(min_value=1, max_value=99),
    ),
    min_size=1,
    max_size=8,
)
levels = st.none() | st.builds(
    pricing.Level,
    name=st.just("gold"),
    discount_rate_bp=st.integers(min_value=1, max_value=10_000),
    free_shipping=st.booleans(),
)
freight = st.none() | st.builds(
    pricing.FreightRule,
    fee_fen=st.integers(min_value=0, max_value=5_000),
    free_over_fen=st.none() | st.integers(min_value=0, max_value=1_000_000),
)


@st.composite
def priced_lines(draw: st.DrawFn) -> tuple[list[pricing.Line], pricing.Promotions | None]:
    """Lines, and (maybe) marketing's answer: each line's amount after promotions."""
    drawn = draw(lines)
    if not draw(st.booleans()):
        return drawn, None
    paid = [draw(st.integers(min_value=0, max_value=line.amount_fen)) for line in drawn]
    off = sum(line.amount_fen for line in drawn) - sum(paid)
    discounts = [pricing.Discount("full_reduction", "满减", off)] if off else []
    return drawn, pricing.Promotions(paid_fen=paid, discounts=discounts)


@given(
    priced=priced_lines(),
    level=levels,
    points=st.integers(min_value=0, max_value=10**7),
    balance=st.integers(min_value=0, max_value=10**7),
    share=st.integers(min_value=0, max_value=10_000),
    rule=freight,
    pickup=st.booleans(),
)
def test_breakdown_adds_up_and_never_goes_negative(
    priced: tuple[list[pricing.Line], pricing.Promotions | None],
    level: pricing.Level | None,
    points: int,
    balance: int,
    share: int,
    rule: pricing.FreightRule | None,
    pickup: bool,
) -> None:
    lines, promotions = priced
    b = pricing.compute(
        lines,
        promotions=promotions,
        level=level,
        points_requested=points,
        points_balance=balance,
        points_fen_each=1,
        points_max_share_bp=share,
        freight=rule,
        pickup=pickup,
    )
    goods = sum(line.unit_price_fen * line.quantity for line in lines)
    assert b.goods_fen == goods
    assert b.total_fen >= 0 and b.freight_fen >= 0
    assert all(d.amount_fen > 0 for d in b.discounts)
    assert sum(d.amount_fen for d in b.discounts) <= goods
    assert b.total_fen == goods - sum(d.amount_fen for d in b.discounts) + b.freight_fen
    assert sum(paid for _, paid in b.lines) == b.total_fen - b.freight_fen
    assert all(0 <= paid <= line.amount_fen for line, paid in b.lines)
    assert b.points_used <= min(points, balance)
    after_promotions = goods - sum(d.amount_fen for d in b.discounts if d.kind != "points")
    assert b.points_fen <= after_promotions * share // 10_000
    if promotions is not None:  # points only ever take from what marketing left
        assert all(
            0 <= paid <= kept for (_, paid), kept in zip(b.lines, promotions.paid_fen, strict=True)
        )
    if pickup:
        assert b.freight_fen == 0


def test_the_level_discount_is_marketings_not_applied_again_here() -> None:
    # Marketing's engine priced the gold level (95折: 999 → 949); order only adds points.
    gold = pricing.Level("gold", 9500, False)
    promotions = pricing.Promotions([949], [pricing.Discount("level", "gold: 9.5折", 50)])
    b = pricing.compute(
        [pricing.Line("a", 999, 1)],
        promotions=promotions,
        level=gold,
        points_requested=100,
        points_balance=100,
        points_fen_each=1,
        points_max_share_bp=5000,
        freight=None,
        pickup=False,
    )
    assert b.total_fen == 849 and b.discount_fen == 50 and b.points_fen == 100
    without = pricing.compute(
        [pricing.Line("a", 999, 1)],
        promotions=None,
        level=gold,
        points_requested=0,
        points_balance=0,
        points_fen_each=1,
        points_max_share_bp=5000,
        freight=None,
        pickup=False,
    )
    assert without.total_fen == 999 and without.discounts == []


def test_points_spread_over_what_promotions_left_and_bad_answers_are_refused() -> None:
    lines = [pricing.Line("a", 1000, 1), pricing.Line("b", 1000, 1)]
    promotions = pricing.Promotions([1000, 0], [pricing.Discount("coupon", "券", 1000)])
    b = pricing.compute(
        lines,
        promotions=promotions,
        level=None,
        points_requested=300,
        points_balance=300,
        points_fen_each=1,
        points_max_share_bp=5000,
        freight=None,
        pickup=True,
    )
    assert [paid for _, paid in b.lines] == [700, 0]  # the free line takes no points
    with pytest.raises(ValueError):
        pricing.compute(
            lines,
            promotions=pricing.Promotions([1001, 0], []),
            level=None,
            points_requested=0,
            points_balance=0,
            points_fen_each=1,
            points_max_share_bp=0,
            freight=None,
            pickup=True,
        )


def test_freight_by_rule_threshold_and_level() -> None:
    def total(goods: int, level: pricing.Level | None) -> int:
        return pricing.compute(
            [pricing.Line("a", goods, 1)],
            promotions=None,
            level=level,
            points_requested=0,
            points_balance=0,
            points_fen_each=1,
            points_max_share_bp=0,
            freight=pricing.FreightRule(fee_fen=800, free_over_fen=9900),
            pickup=False,
        ).freight_fen

    assert total(5000, None) == 800
    assert total(9900, None) == 0
    assert total(5000, pricing.Level("vip", 10_000, True)) == 0


def test_points_are_capped_by_balance_and_share() -> None:
    b = pricing.compute(
        [pricing.Line("a", 10_000, 1)],
        promotions=None,
        level=None,
        points_requested=9_000,
        points_balance=6_000,
        points_fen_each=1,
        points_max_share_bp=5000,
        freight=None,
        pickup=True,
    )
    assert b.points_used == 5_000 and b.total_fen == 5_000
    assert b.notes and "limited" in b.notes[0]


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_every_transition_is_allowed_exactly_when_the_table_says(
    current: Status, target: Status
) -> None:
    if target in states.ALLOWED[current]:
        states.check(current, target)
    else:
        with pytest.raises(IllegalTransition) as caught:
            states.check(current, target)
        assert caught.value.status_code == 409


@given(st.lists(st.sampled_from(sorted(states.PUBLIC)), max_size=12))
def test_random_walks_only_follow_the_diagram(path: list[Status]) -> None:
    current = Status.PENDING_PAYMENT
    for target in path:
        try:
            states.check(current, target)
        except IllegalTransition:
            assert target not in states.ALLOWED[current]
            continue
        assert target in states.ALLOWED[current]
        current = target
    assert current in states.PUBLIC
    assert Status.PENDING_PAYMENT not in {
        t for s in states.PUBLIC - {Status.CREATING} for t in states.ALLOWED[s]
    }  # nothing ever goes back to unpaid
