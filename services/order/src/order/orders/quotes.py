"""Turn a checkout request into a priced quote, asking each service for what it owns."""

import uuid
from dataclasses import dataclass

from shared.errors import Conflict, Unprocessable
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order import pricing
from order.clients import ShippingAddress, SkuSnapshot
from order.deps import Services
from order.models import FreightRule
from order.orders.errors import AddressRequired, CouponNotApplicable
from order.orders.schemas import CheckoutIn, DiscountOut, LineOut, PreviewOut


class SkuUnavailable(Unprocessable):
    code = "sku_unavailable"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


@dataclass
class Quote:
    breakdown: pricing.Breakdown
    skus: dict[uuid.UUID, SkuSnapshot]
    address: ShippingAddress | None

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
        )


async def quote(
    services: Services, session: AsyncSession, member_id: uuid.UUID, body: CheckoutIn
) -> Quote:
    if body.coupon_id is not None:
        # Coupons are marketing's; until it serves them, none applies.
        raise CouponNotApplicable("This coupon cannot be used for this order.")
    skus = await services.catalog.skus([i.sku_id for i in body.items])
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
    breakdown = pricing.compute(
        [pricing.Line(str(i.sku_id), skus[i.sku_id].price_fen, i.quantity) for i in body.items],
        level=level,
        points_requested=body.points,
        points_balance=profile.points_balance,
        points_fen_each=services.settings.points_fen_each,
        points_max_share_bp=services.settings.points_max_share_bp,
        freight=rule,
        pickup=body.fulfilment == "pickup",
    )
    return Quote(breakdown=breakdown, skus=skus, address=address)


async def _freight_rule(session: AsyncSession, province: str | None) -> pricing.FreightRule | None:
    rows = {
        r.region: r
        for r in await session.scalars(
            select(FreightRule).where(FreightRule.region.in_([province or "*", "*"]))
        )
    }
    row = rows.get(province or "*") or rows.get("*")
    return pricing.FreightRule(row.fee_fen, row.free_over_fen) if row else None
