"""Turn a checkout request into a priced quote, asking each service for what it owns."""

import uuid
from dataclasses import dataclass, field

from shared.errors import Conflict, ServiceUnavailable, Unprocessable
from shared.http import UpstreamError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order import pricing
from order.clients import MarketingClient, MemberLevel, ShippingAddress, SkuSnapshot
from order.deps import Services
from order.models import FreightRule
from order.orders import activities
from order.orders.errors import AddressRequired
from order.orders.schemas import CheckoutIn, CouponChoiceOut, DiscountOut, LineOut, PreviewOut


class SkuUnavailable(Unprocessable):
    code = "sku_unavailable"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


@dataclass
class Quote:
    breakdown: pricing.Breakdown
    skus: dict[uuid.UUID, SkuSnapshot]
    address: ShippingAddress | None
    # --- pricing, promotions and coupons ---
    coupon: MarketingClient.CouponChoice | None = None  # applied (and locked at creation)
    suggested_coupon: MarketingClient.CouponChoice | None = None
    usable_coupons: list[MarketingClient.CouponChoice] = field(default_factory=list)

    def preview(self) -> PreviewOut:
        lines = []
        for line, paid in self.breakdown.lines:
            sku = self.skus[uuid.UUID(line.sku_id)]
            lines.append(
                LineOut(
                    sku_id=sku.sku_id,
                    product_id=sku.product_id,
                    product_name=sku.product_name,
                    specs=sku.specs,
                    image_url=sku.image_url,
                    unit_price_fen=line.unit_price_fen,
                    quantity=line.quantity,
                    amount_fen=line.amount_fen,
                    paid_fen=paid,
                )
            )
        b = self.breakdown
        return PreviewOut(
            lines=lines,
            goods_fen=b.goods_fen,
            discounts=[
                DiscountOut(kind=d.kind, rule=d.rule, amount_fen=d.amount_fen) for d in b.discounts
            ],
            points_used=b.points_used,
            points_fen=b.points_fen,
            freight_fen=b.freight_fen,
            freight_rule=b.freight_rule,
            total_fen=b.total_fen,
            notes=b.notes,
            coupon=_coupon_out(self.coupon),
            suggested_coupon=_coupon_out(self.suggested_coupon),
            usable_coupons=[c for c in map(_coupon_out, self.usable_coupons) if c is not None],
        )


async def quote(
    services: Services, session: AsyncSession, member_id: uuid.UUID, body: CheckoutIn
) -> Quote:
    skus = await services.catalog.skus([i.sku_id for i in body.items])
    # --- group-buy and bargain prices: the activity's unit price replaces catalog's ---
    activity = await activities.price_for(services, member_id, body)
    skus = activities.apply(activity, skus)
    missing = [
        i.sku_id for i in body.items if i.sku_id not in skus or skus[i.sku_id].status != "on_sale"
    ]
    if missing:
        raise SkuUnavailable(
            "Some items cannot be ordered.", details=[{"sku_id": str(s)} for s in missing]
        )
    short = [
        {"sku_id": str(i.sku_id), "requested": i.quantity, "available": skus[i.sku_id].available}
        for i in body.items
        if skus[i.sku_id].available < i.quantity
    ]
    if short:
        raise InsufficientStock("Not enough stock.", details=short)
    profile = await services.member.pricing_profile(member_id)
    address = None
    if body.fulfilment == "delivery":
        if body.address_id is None:
            raise AddressRequired("A delivery needs an address_id.")
        address = await services.member.address(member_id, body.address_id)
    rule = await _freight_rule(session, address.province if address else None)
    level = (
        pricing.Level(
            profile.level.name, profile.level.discount_rate_bp, profile.level.free_shipping
        )
        if profile.level
        else None
    )
    lines = [pricing.Line(str(i.sku_id), skus[i.sku_id].price_fen, i.quantity) for i in body.items]
    if activity is None:
        promotions, offer = await _promotions(services, member_id, profile.level, lines, body)
    else:  # --- group-buy and bargain prices: no promotions, no coupon ---
        promotions, offer = activities.no_promotions(lines)
    breakdown = pricing.compute(
        lines,
        promotions=promotions,
        level=level,
        points_requested=body.points,
        points_balance=profile.points_balance,
        points_fen_each=services.settings.points_fen_each,
        points_max_share_bp=services.settings.points_max_share_bp,
        freight=rule,
        pickup=body.fulfilment == "pickup",
    )
    return Quote(
        breakdown=breakdown,
        skus=skus,
        address=address,
        coupon=offer.coupon,
        suggested_coupon=offer.suggested_coupon,
        usable_coupons=offer.usable_coupons,
    )


# --- pricing, promotions and coupons ---


async def _promotions(
    services: Services,
    member_id: uuid.UUID,
    level: MemberLevel | None,
    lines: list[pricing.Line],
    body: CheckoutIn,
) -> tuple[pricing.Promotions, MarketingClient.Quote]:
    """Marketing's engine: promotions, member-level prices and the chosen coupon. Its
    refusals (``coupon_not_applicable``) reach the client as they are; marketing being
    away is a 503: an order is never priced without its promotions."""
    try:
        answer = await services.marketing.quote(
            member_id,
            level,
            [(uuid.UUID(line.sku_id), line.quantity, line.unit_price_fen) for line in lines],
            body.coupon_id,
        )
    except UpstreamError as exc:
        if exc.status_code >= 500:
            raise ServiceUnavailable("Marketing is unavailable; try again.") from exc
        raise
    paid = {line.sku_id: line.paid_fen for line in answer.lines}
    return (
        pricing.Promotions(
            paid_fen=[paid[uuid.UUID(line.sku_id)] for line in lines],
            discounts=[pricing.Discount(d.kind, d.rule, d.amount_fen) for d in answer.discounts],
        ),
        answer,
    )


def _coupon_out(choice: MarketingClient.CouponChoice | None) -> CouponChoiceOut | None:
    if choice is None:
        return None
    return CouponChoiceOut(
        coupon_id=choice.coupon_id, name=choice.name, discount_fen=choice.discount_fen
    )


async def _freight_rule(session: AsyncSession, province: str | None) -> pricing.FreightRule | None:
    rows = {
        r.region: r
        for r in await session.scalars(
            select(FreightRule).where(FreightRule.region.in_([province or "*", "*"]))
        )
    }
    row = rows.get(province or "*") or rows.get("*")
    return pricing.FreightRule(row.fee_fen, row.free_over_fen) if row else None
