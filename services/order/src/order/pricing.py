"""The checkout breakdown: one pure, typed computation used by preview and by creation.

Order of application (each step works on what the previous left):
1. goods: Σ unit price × quantity (catalog's prices, never the client's);
2. promotions and coupon: from marketing (none until the marketing service provides them);
3. member level discount: ``discount_rate_bp`` of what remains (9500 = 95折), rounded down
   the price after it is rounded down to the fen, in the member's favour;
4. points: at most the member's balance, at most ``points_max_share_bp`` of the goods after
   discounts, 1 point = ``points_fen_each`` fen;
5. freight: by province (default rule ``*``), free above a threshold or for levels with free
   shipping; pickup orders pay none.
Discounts are spread over lines in proportion to their amounts (largest remainder), so
each line's ``paid_fen`` adds up to the goods part of ``total_fen`` exactly.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Line:
    sku_id: str
    unit_price_fen: int
    quantity: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Level:
    name: str
    discount_rate_bp: int  # price paid per 10,000
    free_shipping: bool


@dataclass(frozen=True)
class FreightRule:
    fee_fen: int
    free_over_fen: int | None


@dataclass(frozen=True)
class Discount:
    kind: str  # level | promotion | coupon | points
    rule: str  # what gave it, in words
    amount_fen: int


@dataclass(frozen=True)
class Breakdown:
    lines: list[tuple[Line, int]]  # each line and its paid_fen
    goods_fen: int
    discounts: list[Discount]
    points_used: int
    points_fen: int
    freight_fen: int
    freight_rule: str
    total_fen: int
    notes: list[str] = field(default_factory=list)

    @property
    def discount_fen(self) -> int:
        return sum(d.amount_fen for d in self.discounts if d.kind != "points")


def compute(
    lines: list[Line],
    *,
    level: Level | None,
    points_requested: int,
    points_balance: int,
    points_fen_each: int,
    points_max_share_bp: int,
    freight: FreightRule | None,
    pickup: bool,
) -> Breakdown:
    goods = sum(line.amount_fen for line in lines)
    discounts: list[Discount] = []
    remaining = goods
    if level is not None and level.discount_rate_bp < 10_000:
        level_off = remaining - remaining * level.discount_rate_bp // 10_000
        level_off = min(level_off, remaining)
        if level_off > 0:
            discounts.append(
                Discount("level", f"{level.name}: {level.discount_rate_bp / 100:g}%", level_off)
            )
            remaining -= level_off
    notes: list[str] = []
    points_cap_fen = remaining * points_max_share_bp // 10_000
    wanted = max(points_requested, 0)
    usable = min(wanted, max(points_balance, 0), points_cap_fen // max(points_fen_each, 1))
    if usable < wanted:
        notes.append(
            f"points limited to {usable} (balance and the {points_max_share_bp / 100:g}% cap)"
        )
    points_fen = usable * points_fen_each
    if points_fen > 0:
        discounts.append(Discount("points", f"{usable} points", points_fen))
        remaining -= points_fen
    freight_fen, freight_rule = _freight(goods, level, freight, pickup)
    paid = _spread(lines, remaining)
    return Breakdown(
        lines=list(zip(lines, paid, strict=True)),
        goods_fen=goods,
        discounts=discounts,
        points_used=usable,
        points_fen=points_fen,
        freight_fen=freight_fen,
        freight_rule=freight_rule,
        total_fen=remaining + freight_fen,
        notes=notes,
    )


def _freight(
    goods: int, level: Level | None, rule: FreightRule | None, pickup: bool
) -> tuple[int, str]:
    if pickup:
        return 0, "store pickup"
    if level is not None and level.free_shipping:
        return 0, f"free shipping for {level.name}"
    if rule is None:
        return 0, "no freight rule"
    if rule.free_over_fen is not None and goods >= rule.free_over_fen:
        return 0, f"free over {rule.free_over_fen} fen"
    return rule.fee_fen, f"{rule.fee_fen} fen"


def _spread(lines: list[Line], total: int) -> list[int]:
    """Split ``total`` over lines in proportion to their amounts; parts add up exactly."""
    goods = sum(line.amount_fen for line in lines)
    if goods == 0:
        return [0 for _ in lines]
    raw = [line.amount_fen * total for line in lines]
    parts = [r // goods for r in raw]
    short = total - sum(parts)
    by_remainder = sorted(range(len(lines)), key=lambda i: (-(raw[i] % goods), i))
    for i in by_remainder[:short]:
        parts[i] += 1
    return parts
