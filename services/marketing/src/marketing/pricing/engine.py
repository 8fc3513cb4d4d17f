"""The pricing engine: promotions and one coupon over checkout lines. Pure and typed: no IO,
no clock (the caller passes what is active now), integers in fen only.

Stacking, each step working on what the previous one left:

1. **Unit price** (per unit, per line): the lowest of the list price, the best running
   limited-time discount (限时折扣) covering the line, and the member's level price (会员价:
   the lowest ``member_price`` promotion rate for the member's level among those covering
   the line, otherwise the level's own ``discount_rate_bp``). Limited-time and level prices never
   stack: the line takes the better one.
2. **Ladders** (满减 ``full_reduction``, 满折 ``full_discount``), on the lines' amounts after
   step 1. A line counts towards at most one ladder: the ladder that saves most over the
   lines it covers is applied first, its lines are taken, and so on while one still saves
   something (ties: the promotion listed first).
3. **Coupon** (at most one), on the amounts after step 2 of the lines its scope covers; its
   minimum spend is checked against those amounts.

Rounding: every percentage yields a *price* rounded down to the fen (so the discount is
rounded up; the shopper's favour). A step's discount is capped at what it works on and is
spread over its lines in proportion to their amounts, largest remainder first, so every
line's parts add up exactly and no line, and no total, ever goes below zero.

Member level free shipping, points and freight are order's (``order.pricing``).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

BP = 10_000  # basis points: a rate of 8500 pays 85% (85折)

ScopeKind = Literal["all", "categories", "products"]
CouponKind = Literal["fixed", "threshold", "percent"]
LadderKind = Literal["full_reduction", "full_discount"]


@dataclass(frozen=True)
class Scope:
    """Which lines a rule covers: all, or those of some products, or of some categories
    (a line's categories include every ancestor of its own)."""

    kind: ScopeKind = "all"
    ids: frozenset[str] = frozenset()

    def covers(self, line: "Line") -> bool:
        if self.kind == "all":
            return True
        if self.kind == "products":
            return line.product_id in self.ids
        return not self.ids.isdisjoint(line.category_ids)


@dataclass(frozen=True)
class Line:
    sku_id: str
    product_id: str
    category_ids: frozenset[str]
    unit_price_fen: int
    quantity: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Level:
    """The member's level, as member reports it."""

    name: str
    discount_rate_bp: int


@dataclass(frozen=True)
class LimitedTime:
    id: str
    name: str
    scope: Scope
    rate_bp: int


@dataclass(frozen=True)
class MemberPrice:
    """Per-level rates for the lines in scope; they replace the level's own rate there."""

    id: str
    name: str
    scope: Scope
    level_rates: Mapping[str, int]


@dataclass(frozen=True)
class Tier:
    threshold_fen: int
    off_fen: int = 0  # full_reduction
    rate_bp: int = BP  # full_discount


@dataclass(frozen=True)
class Ladder:
    """满减 (``off_fen`` at the highest tier reached; with ``repeat``, 每满: the single tier's
    ``off_fen`` for every full threshold, up to ``max_off_fen``) or 满折 (``rate_bp`` at the
    highest tier reached)."""

    id: str
    name: str
    kind: LadderKind
    scope: Scope
    tiers: tuple[Tier, ...]
    repeat: bool = False
    max_off_fen: int | None = None

    def discount(self, base_fen: int) -> tuple[int, Tier | None]:
        reached = [t for t in self.tiers if t.threshold_fen <= base_fen]
        if base_fen <= 0 or not reached:
            return 0, None
        tier = max(reached, key=lambda t: t.threshold_fen)
        if self.kind == "full_discount":
            off = base_fen - base_fen * tier.rate_bp // BP
        elif self.repeat and tier.threshold_fen > 0:
            off = base_fen // tier.threshold_fen * tier.off_fen
        else:
            off = tier.off_fen
        if self.max_off_fen is not None:
            off = min(off, self.max_off_fen)
        return max(0, min(off, base_fen)), tier


Promotion = LimitedTime | MemberPrice | Ladder


@dataclass(frozen=True)
class Coupon:
    id: str
    name: str
    kind: CouponKind
    scope: Scope
    min_spend_fen: int = 0
    off_fen: int = 0  # fixed, threshold
    rate_bp: int = BP  # percent
    max_off_fen: int | None = None  # percent: the cap
    valid_until: datetime | None = None  # for choosing between equal suggestions

    def discount(self, base_fen: int) -> int:
        if self.kind == "percent":
            off = base_fen - base_fen * self.rate_bp // BP
            if self.max_off_fen is not None:
                off = min(off, self.max_off_fen)
        else:
            off = self.off_fen
        return max(0, min(off, base_fen))


@dataclass(frozen=True)
class Adjustment:
    """One rule's effect: on a line, or (in ``Quote.discounts``) summed over the order."""

    kind: str  # limited_time | member_price | level | full_reduction | full_discount | coupon
    rule: str  # what gave it, in words
    amount_fen: int
    source_id: str | None = None  # the promotion or coupon


@dataclass(frozen=True)
class LineQuote:
    line: Line
    unit_price_fen: int  # after step 1
    adjustments: tuple[Adjustment, ...]
    paid_fen: int  # the line's amount after every step

    @property
    def discount_fen(self) -> int:
        return sum(a.amount_fen for a in self.adjustments)


@dataclass(frozen=True)
class CouponResult:
    coupon: Coupon
    discount_fen: int


@dataclass(frozen=True)
class Quote:
    lines: tuple[LineQuote, ...]
    goods_fen: int
    discounts: tuple[Adjustment, ...]
    coupon: CouponResult | None
    coupon_refusal: str | None  # why the requested coupon does not apply
    suggestion: CouponResult | None  # the best of the member's coupons for these lines
    usable_coupons: tuple[CouponResult, ...] = field(default=())

    @property
    def discount_fen(self) -> int:
        return sum(d.amount_fen for d in self.discounts)

    @property
    def total_fen(self) -> int:
        return sum(q.paid_fen for q in self.lines)


def quote(
    lines: Sequence[Line],
    *,
    level: Level | None,
    promotions: Sequence[Promotion],
    coupon: Coupon | None = None,
    wallet: Sequence[Coupon] = (),
) -> Quote:
    """Price ``lines`` under ``promotions`` (those running now), then ``coupon`` if given;
    ``wallet`` (the member's usable coupons) gives the suggestion."""
    units, adjustments = _unit_prices(lines, level, promotions)
    amounts = [u * line.quantity for u, line in zip(units, lines, strict=True)]
    _ladders(lines, amounts, adjustments, [p for p in promotions if isinstance(p, Ladder)])

    usable = []
    for candidate in wallet:
        result, _ = _coupon(lines, amounts, candidate)
        if result is not None:
            usable.append(result)
    usable.sort(key=_best_first)
    applied: CouponResult | None = None
    refusal: str | None = None
    if coupon is not None:
        applied, refusal = _coupon(lines, amounts, coupon)
        if applied is not None:
            eligible = [i for i, line in enumerate(lines) if coupon.scope.covers(line)]
            shares = spread([amounts[i] for i in eligible], applied.discount_fen)
            rule = _coupon_rule(coupon)
            for i, share in zip(eligible, shares, strict=True):
                if share:
                    adjustments[i].append(Adjustment("coupon", rule, share, coupon.id))
                    amounts[i] -= share

    line_quotes = tuple(
        LineQuote(line, units[i], tuple(adjustments[i]), amounts[i]) for i, line in enumerate(lines)
    )
    return Quote(
        lines=line_quotes,
        goods_fen=sum(line.amount_fen for line in lines),
        discounts=_summed(adjustments),
        coupon=applied,
        coupon_refusal=refusal,
        suggestion=usable[0] if usable else None,
        usable_coupons=tuple(usable),
    )


def _unit_prices(
    lines: Sequence[Line], level: Level | None, promotions: Sequence[Promotion]
) -> tuple[list[int], list[list[Adjustment]]]:
    limited = [p for p in promotions if isinstance(p, LimitedTime)]
    member_prices = [p for p in promotions if isinstance(p, MemberPrice)]
    units: list[int] = []
    adjustments: list[list[Adjustment]] = []
    for line in lines:
        unit = line.unit_price_fen
        best: tuple[int, tuple[str, str, str | None] | None] = (unit, None)  # price, rule
        for promo in limited:
            if promo.scope.covers(line):
                price = unit * promo.rate_bp // BP
                if price < best[0]:
                    best = (
                        price,
                        ("limited_time", f"{promo.name}: {_rate(promo.rate_bp)}", promo.id),
                    )
        if level is not None:
            rate, kind, rule, source = level.discount_rate_bp, "level", level.name, None
            covering = [
                (mp.level_rates[level.name], mp)
                for mp in member_prices
                if level.name in mp.level_rates and mp.scope.covers(line)
            ]
            if covering:  # the lowest member price in scope replaces the level's own rate
                mp_rate, mp = min(covering, key=lambda c: c[0])
                rate, kind, rule, source = mp_rate, "member_price", mp.name, mp.id
            price = unit * rate // BP
            if price < best[0]:
                best = (price, (kind, f"{rule}: {_rate(rate)}", source))
        price, how = best
        units.append(price)
        made: list[Adjustment] = []
        if how is not None and price < unit:
            made.append(Adjustment(how[0], how[1], (unit - price) * line.quantity, how[2]))
        adjustments.append(made)
    return units, adjustments


def _ladders(
    lines: Sequence[Line],
    amounts: list[int],
    adjustments: list[list[Adjustment]],
    ladders: Sequence[Ladder],
) -> None:
    taken: set[int] = set()
    left = list(ladders)
    while left:
        best: tuple[int, Ladder, list[int], Tier] | None = None
        for ladder in left:
            members = [
                i for i, line in enumerate(lines) if i not in taken and ladder.scope.covers(line)
            ]
            off, tier = ladder.discount(sum(amounts[i] for i in members))
            if off > 0 and tier is not None and (best is None or off > best[0]):
                best = (off, ladder, members, tier)
        if best is None:
            return
        off, ladder, members, tier = best
        rule = f"{ladder.name}: {_tier_words(ladder, tier)}"
        for i, share in zip(members, spread([amounts[i] for i in members], off), strict=True):
            if share:
                adjustments[i].append(Adjustment(ladder.kind, rule, share, ladder.id))
                amounts[i] -= share
        taken.update(members)
        left.remove(ladder)


def _coupon(
    lines: Sequence[Line], amounts: Sequence[int], coupon: Coupon
) -> tuple[CouponResult | None, str | None]:
    base = sum(a for a, line in zip(amounts, lines, strict=True) if coupon.scope.covers(line))
    if base <= 0:
        return None, "no item in this order is covered by the coupon"
    if base < coupon.min_spend_fen:
        return None, (
            f"the coupon needs {coupon.min_spend_fen} fen on the items it covers; "
            f"they come to {base} fen"
        )
    off = coupon.discount(base)
    if off <= 0:
        return None, "the coupon takes nothing off this order"
    return CouponResult(coupon, off), None


def _best_first(result: CouponResult) -> tuple[int, float, str]:
    until = result.coupon.valid_until
    return (-result.discount_fen, until.timestamp() if until else float("inf"), result.coupon.id)


def spread(amounts: Sequence[int], total: int) -> list[int]:
    """Split ``total`` (at most ``sum(amounts)``) in proportion to ``amounts``: each part at
    most its amount, parts add up exactly; the remainder fen go to the largest remainders
    (ties: the earlier line)."""
    whole = sum(amounts)
    if whole <= 0 or total <= 0:
        return [0 for _ in amounts]
    total = min(total, whole)
    raw = [a * total for a in amounts]
    parts = [r // whole for r in raw]
    short = total - sum(parts)
    for i in sorted(range(len(amounts)), key=lambda i: (-(raw[i] % whole), i))[:short]:
        parts[i] += 1
    return parts


def _summed(per_line: Iterable[list[Adjustment]]) -> tuple[Adjustment, ...]:
    totals: dict[tuple[str, str, str | None], int] = {}
    for adjustments in per_line:
        for a in adjustments:
            key = (a.kind, a.rule, a.source_id)
            totals[key] = totals.get(key, 0) + a.amount_fen
    return tuple(Adjustment(k, r, amount, s) for (k, r, s), amount in totals.items())


def _rate(rate_bp: int) -> str:
    return f"{rate_bp / 1000:g}折" if rate_bp % 100 == 0 else f"pay {rate_bp / 100:g}%"


def _tier_words(ladder: Ladder, tier: Tier) -> str:
    if ladder.kind == "full_discount":
        return f"满{tier.threshold_fen}分{_rate(tier.rate_bp)}"
    each = "每" if ladder.repeat else ""
    return f"{each}满{tier.threshold_fen}分减{tier.off_fen}分"


def _coupon_rule(coupon: Coupon) -> str:
    if coupon.kind == "percent":
        cap = f", at most {coupon.max_off_fen} fen" if coupon.max_off_fen is not None else ""
        return f"{coupon.name}: {_rate(coupon.rate_bp)}{cap}"
    if coupon.min_spend_fen:
        return f"{coupon.name}: 满{coupon.min_spend_fen}分减{coupon.off_fen}分"
    return f"{coupon.name}: {coupon.off_fen} fen off"
