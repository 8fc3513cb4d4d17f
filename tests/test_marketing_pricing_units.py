"""Marketing's pricing engine, pure: stacking, rounding in fen, coupons and suggestions,
with property-based tests over random carts, promotions and coupons."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from marketing.pricing import engine
from marketing.pricing.engine import (
    Coupon,
    Ladder,
    Level,
    LimitedTime,
    Line,
    MemberPrice,
    Scope,
    Tier,
    quote,
    spread,
)

ALL = Scope()
SHOES, SHIRTS, CLOTHES = "cat-shoes", "cat-shirts", "cat-clothes"  # clothes ⊃ shirts


def line(sku: str, price: int, qty: int = 1, product: str | None = None, *cats: str) -> Line:
    return Line(sku, product or f"p-{sku}", frozenset(cats), price, qty)


def test_a_line_takes_the_better_of_limited_time_and_level_price_never_both() -> None:
    lines = [line("a", 10_000, 1), line("b", 10_000, 1)]
    sale = LimitedTime("lt", "限时8折", Scope("products", frozenset({"p-a"})), 8000)
    q = quote(lines, level=Level("gold", 9000), promotions=[sale])
    a, b = q.lines
    assert a.unit_price_fen == 8000 and [x.kind for x in a.adjustments] == ["limited_time"]
    assert b.unit_price_fen == 9000 and [x.kind for x in b.adjustments] == ["level"]
    q = quote(lines, level=Level("diamond", 7000), promotions=[sale])
    assert [x.unit_price_fen for x in q.lines] == [7000, 7000]  # the level beats the sale
    assert q.total_fen == 14_000 and q.discount_fen == 6000


def test_member_price_replaces_the_levels_own_rate_in_its_scope() -> None:
    lines = [line("a", 1000, 2, None, SHIRTS, CLOTHES), line("b", 1000, 1, None, SHOES)]
    mp = MemberPrice("mp", "衣服会员价", Scope("categories", frozenset({CLOTHES})), {"gold": 8000})
    q = quote(lines, level=Level("gold", 9500), promotions=[mp])
    assert [x.unit_price_fen for x in q.lines] == [800, 950]
    assert q.lines[0].adjustments[0].kind == "member_price"
    # Another level: the member price does not name it, the level's own rate applies.
    q = quote(lines, level=Level("silver", 9900), promotions=[mp])
    assert [x.unit_price_fen for x in q.lines] == [990, 990]
    # The merchant may also set a member price *above* the level rate (excluded products).
    worse = MemberPrice("mp2", "不参与", Scope("products", frozenset({"p-b"})), {"gold": 10_000})
    q = quote(lines, level=Level("gold", 9500), promotions=[worse])
    assert q.lines[1].unit_price_fen == 1000 and q.lines[1].adjustments == ()


def test_percentages_round_the_price_down_to_the_fen_in_the_shoppers_favour() -> None:
    q = quote([line("a", 999, 3)], level=Level("gold", 8500), promotions=[])
    assert q.lines[0].unit_price_fen == 849  # 999 × 0.85 = 849.15 → 849, per unit
    assert q.total_fen == 849 * 3
    ladder = Ladder("fd", "满折", "full_discount", ALL, (Tier(1000, rate_bp=9000),))
    q = quote([line("a", 1001, 1)], level=None, promotions=[ladder])
    assert q.total_fen == 900  # 1001 × 0.9 = 900.9 → 900
    pct = Coupon("c", "95折", "percent", ALL, rate_bp=9500)
    q = quote([line("a", 1001, 1)], level=None, promotions=[], coupon=pct)
    assert q.total_fen == 950 and q.coupon is not None and q.coupon.discount_fen == 51


def test_full_reduction_takes_the_highest_tier_reached_and_repeat_is_capped() -> None:
    tiers = (Tier(10_000, off_fen=1000), Tier(20_000, off_fen=3000))
    ladder = Ladder("fr", "满减", "full_reduction", ALL, tiers)
    assert ladder.discount(9_999) == (0, None)
    assert ladder.discount(10_000)[0] == 1000
    assert ladder.discount(35_000)[0] == 3000
    every = Ladder("ev", "每满100减10", "full_reduction", ALL, (Tier(10_000, 1000),), True, 2500)
    assert every.discount(29_999)[0] == 2000
    assert every.discount(99_999)[0] == 2500  # capped
    q = quote([line("a", 12_000, 1), line("b", 8_000, 1)], level=None, promotions=[ladder])
    assert q.total_fen == 17_000
    assert [x.paid_fen for x in q.lines] == [10_200, 6_800]  # spread 3:2


def test_a_line_counts_towards_one_ladder_and_the_best_ladder_goes_first() -> None:
    lines = [line("a", 10_000, 1, None, SHOES), line("b", 10_000, 1, None, SHIRTS)]
    store = Ladder("s", "全场满200减30", "full_reduction", ALL, (Tier(20_000, 3000),))
    shoes = Ladder("h", "鞋满100减20", "full_reduction", Scope("categories", frozenset({SHOES})),
                   (Tier(10_000, 2000),))  # fmt: skip
    q = quote(lines, level=None, promotions=[shoes, store])
    # The store ladder saves more (30 yuan over both lines); the shoe ladder finds its line
    # taken and applies to nothing.
    assert q.discount_fen == 3000
    assert {d.source_id for d in q.discounts} == {"s"}
    big_shoes = Ladder("h2", "鞋满100减60", "full_reduction",
                       Scope("categories", frozenset({SHOES})), (Tier(10_000, 6000),))  # fmt: skip
    q = quote(lines, level=None, promotions=[store, big_shoes])
    # Shoes first (60 yuan); the store ladder then sees only the shirt, under its threshold.
    assert q.discount_fen == 6000


def test_coupon_applies_after_promotions_and_checks_its_threshold_on_covered_items() -> None:
    lines = [line("a", 6000, 1, None, SHIRTS, CLOTHES), line("b", 6000, 1, None, SHOES)]
    clothes = Scope("categories", frozenset({CLOTHES}))
    coupon = Coupon("c1", "衣服满50减10", "threshold", clothes, min_spend_fen=5000, off_fen=1000)
    q = quote(lines, level=None, promotions=[], coupon=coupon)
    assert q.coupon is not None and q.coupon.discount_fen == 1000
    assert [x.paid_fen for x in q.lines] == [5000, 6000]  # only the covered line
    # A limited-time price takes the shirt under the coupon's threshold.
    sale = LimitedTime("lt", "限时8折", clothes, 8000)
    q = quote(lines, level=None, promotions=[sale], coupon=coupon)
    assert q.coupon is None and q.coupon_refusal and "5000" in q.coupon_refusal
    # Out of scope entirely.
    q = quote([lines[1]], level=None, promotions=[], coupon=coupon)
    assert q.coupon is None and "covered" in (q.coupon_refusal or "")


def test_fixed_coupons_are_capped_at_the_amount_and_percent_at_max_off() -> None:
    big = Coupon("c", "立减100", "fixed", ALL, off_fen=10_000)
    q = quote([line("a", 3000, 1)], level=None, promotions=[], coupon=big)
    assert q.total_fen == 0 and q.coupon is not None and q.coupon.discount_fen == 3000
    pct = Coupon("p", "8折最多20", "percent", ALL, rate_bp=8000, max_off_fen=2000)
    q = quote([line("a", 50_000, 1)], level=None, promotions=[], coupon=pct)
    assert q.coupon is not None and q.coupon.discount_fen == 2000


def test_the_suggestion_is_the_largest_saving_then_the_soonest_to_expire() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ten_late = Coupon("c1", "减10", "fixed", ALL, off_fen=1000, valid_until=now + timedelta(9))
    ten_soon = Coupon("c2", "减10", "fixed", ALL, off_fen=1000, valid_until=now + timedelta(1))
    five = Coupon("c3", "减5", "fixed", ALL, off_fen=500, valid_until=now)
    needs = Coupon("c4", "满500减100", "threshold", ALL, min_spend_fen=50_000, off_fen=10_000)
    q = quote(
        [line("a", 3000, 1)], level=None, promotions=[], wallet=[five, ten_late, needs, ten_soon]
    )
    assert q.suggestion is not None and q.suggestion.coupon.id == "c2"
    assert [r.coupon.id for r in q.usable_coupons] == ["c2", "c1", "c3"]  # c4 does not apply
    assert q.coupon is None and q.total_fen == 3000  # suggested, not applied


def test_spread_is_proportional_exact_and_bounded() -> None:
    assert spread([1, 1, 1], 2) == [1, 1, 0]
    assert spread([0, 0], 5) == [0, 0]
    assert spread([3, 7], 100) == [3, 7]  # never more than the amounts
    assert sum(spread([333, 333, 334], 100)) == 100


# --- properties ---

skus = st.sampled_from(["a", "b", "c", "d", "e", "f"])
categories = st.frozensets(st.sampled_from([SHOES, SHIRTS, CLOTHES]), max_size=2)
scopes = st.one_of(
    st.just(ALL),
    st.builds(Scope, st.just("products"), st.frozensets(st.sampled_from(["p-a", "p-b", "p-c"]))),
    st.builds(Scope, st.just("categories"), st.frozensets(st.sampled_from([SHOES, CLOTHES]))),
)
rates = st.integers(min_value=1, max_value=10_000)
money = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def carts(draw: st.DrawFn) -> list[Line]:
    names = draw(st.lists(skus, min_size=1, max_size=6, unique=True))
    return [
        Line(
            n,
            f"p-{n}",
            draw(categories),
            draw(money),
            draw(st.integers(min_value=1, max_value=99)),
        )
        for n in names
    ]


tiers_fr = st.lists(
    st.builds(Tier, threshold_fen=money, off_fen=money), min_size=1, max_size=3
).map(tuple)
tiers_fd = st.lists(
    st.builds(Tier, threshold_fen=money, rate_bp=rates), min_size=1, max_size=3
).map(tuple)
promotion = st.one_of(
    st.builds(LimitedTime, st.uuids().map(str), st.just("限时"), scopes, rates),
    st.builds(
        MemberPrice,
        st.uuids().map(str),
        st.just("会员价"),
        scopes,
        st.dictionaries(st.sampled_from(["gold", "silver"]), rates, max_size=2),
    ),
    st.builds(
        Ladder,
        st.uuids().map(str),
        st.just("满减"),
        st.just("full_reduction"),
        scopes,
        tiers_fr,
        st.booleans(),
        st.none() | money,
    ),
    st.builds(
        Ladder, st.uuids().map(str), st.just("满折"), st.just("full_discount"), scopes, tiers_fd
    ),
)
coupons = st.builds(
    Coupon,
    id=st.uuids().map(str),
    name=st.just("券"),
    kind=st.sampled_from(["fixed", "threshold", "percent"]),
    scope=scopes,
    min_spend_fen=money,
    off_fen=money,
    rate_bp=rates,
    max_off_fen=st.none() | st.integers(min_value=1, max_value=2_000_000),
)
levels = st.none() | st.builds(Level, st.sampled_from(["gold", "silver", "bronze"]), rates)


@settings(max_examples=300)
@given(
    lines=carts(),
    level=levels,
    promotions=st.lists(promotion, max_size=5),
    coupon=st.none() | coupons,
    wallet=st.lists(coupons, max_size=4),
)
def test_quotes_add_up_never_go_negative_and_coupons_only_ever_save(
    lines: list[Line],
    level: Level | None,
    promotions: list[engine.Promotion],
    coupon: Coupon | None,
    wallet: list[Coupon],
) -> None:
    q = quote(lines, level=level, promotions=promotions, coupon=coupon, wallet=wallet)
    goods = sum(x.amount_fen for x in lines)
    assert q.goods_fen == goods
    assert q.total_fen >= 0 and q.total_fen == goods - q.discount_fen
    for lq in q.lines:
        assert 0 <= lq.paid_fen <= lq.line.amount_fen
        assert 0 <= lq.unit_price_fen <= lq.line.unit_price_fen
        assert all(a.amount_fen > 0 for a in lq.adjustments)
        assert lq.line.amount_fen - lq.discount_fen == lq.paid_fen
        # At most one unit-price rule per line (limited-time and level never stack).
        unit_rules = [
            a for a in lq.adjustments if a.kind in ("limited_time", "level", "member_price")
        ]
        assert len(unit_rules) <= 1
        ladders = {a.source_id for a in lq.adjustments if a.kind.startswith("full_")}
        assert len(ladders) <= 1
    assert all(d.amount_fen > 0 for d in q.discounts)
    assert sum(d.amount_fen for d in q.discounts) == q.discount_fen
    # Same input, same numbers (preview and creation agree).
    again = quote(lines, level=level, promotions=promotions, coupon=coupon, wallet=wallet)
    assert again == q
    without = quote(lines, level=level, promotions=promotions, wallet=wallet)
    if q.coupon is not None:
        assert q.total_fen == without.total_fen - q.coupon.discount_fen
        assert q.coupon.discount_fen > 0
        on_lines = sum(a.amount_fen for x in q.lines for a in x.adjustments if a.kind == "coupon")
        assert on_lines == q.coupon.discount_fen
        assert q.coupon.discount_fen <= without.total_fen
    else:
        assert q.total_fen == without.total_fen
    # The suggestion is the wallet's largest saving.
    if q.suggestion is not None:
        best = max(
            quote(lines, level=level, promotions=promotions, coupon=c).coupon.discount_fen  # type: ignore[union-attr]
            for c in wallet
            if quote(lines, level=level, promotions=promotions, coupon=c).coupon is not None
        )
        assert q.suggestion.discount_fen == best
    else:
        assert all(
            quote(lines, level=level, promotions=promotions, coupon=c).coupon is None
            for c in wallet
        )


@given(amounts=st.lists(money, min_size=1, max_size=8), total=money)
def test_spread_parts_add_up_and_stay_within_each_amount(amounts: list[int], total: int) -> None:
    parts = spread(amounts, total)
    assert sum(parts) == min(total, sum(amounts))
    assert all(0 <= p <= a for p, a in zip(parts, amounts, strict=True))
