"""The checkout breakdown: one pure, typed computation used by preview and by creation.

Order of application (each step works on what the previous left):
1. goods: Σ unit price × quantity (catalog's prices, never the client's);
2. promotions, member-level prices and the coupon: marketing's pricing engine
   (``POST /internal/v1/marketing/quotes``, see docs/marketing.md) answers each line's
   amount after them and what took it off; the member level's ``discount_rate_bp`` applies
   there (the only place it does), never here;
3. points: at most the member's balance, at most ``points_max_share_bp`` of the goods after
   step 2, 1 point = ``points_fen_each`` fen, spread over the lines in proportion to their
   amounts after step 2 (largest remainder);
4. freight: by province (default rule ``*``), free above a threshold of the goods or for
   levels with free shipping; pickup orders pay none.
Each line's ``paid_fen`` adds up to the goods part of ``total_fen`` exactly.
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
class Promotions:
    """Marketing's answer for the lines (same order): each line's amount after promotions,
    member-level prices and the coupon, and the discounts that made it."""

    paid_fen: list[int]
    discounts: list[Discount]


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
    promotions: Promotions | None,
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
    amounts = [line.amount_fen for line in lines]
    if promotions is not None:
        if len(promotions.paid_fen) != len(lines) or any(
            not 0 <= paid <= line.amount_fen
            for paid, line in zip(promotions.paid_fen, lines, strict=True)
        ):
            raise ValueError("promotions must leave each line between 0 and its amount")
        amounts = list(promotions.paid_fen)
        discounts.extend(d for d in promotions.discounts if d.amount_fen > 0)
    remaining = sum(amounts)
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
    paid = [a - off for a, off in zip(amounts, _spread(amounts, points_fen), strict=True)]
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


def _spread(amounts: list[int], total: int) -> list[int]:
    """Split ``total`` (at most their sum) over amounts in proportion; each part at most its
    amount, parts add up exactly (remainder fen to the largest remainders)."""
    whole = sum(amounts)
    if whole <= 0 or total <= 0:
        return [0 for _ in amounts]
    raw = [a * total for a in amounts]
    parts = [r // whole for r in raw]
    short = total - sum(parts)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (-(raw[i] % whole), i))
    for i in by_remainder[:short]:
        parts[i] += 1
    return parts
