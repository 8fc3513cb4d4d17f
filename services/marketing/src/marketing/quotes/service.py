"""A quote: the live promotions and the member's coupons, through the pure engine.

Order calls this for the checkout preview and again for creation, with the same inputs, so
both show the same numbers. Product ids and category paths (for scopes) come from catalog;
unit prices come from order, which took them from catalog for the same request.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from marketing.coupons import repository as coupons
from marketing.coupons.errors import CouponNotApplicable
from marketing.coupons.service import now_utc
from marketing.models import Coupon, CouponTemplate
from marketing.peers import CatalogPeer
from marketing.pricing import engine
from marketing.promotions import repository as promotions
from marketing.promotions.service import scope_of, to_engine
from marketing.quotes.errors import QuoteSkuUnknown
from marketing.quotes.schemas import (
    AdjustmentOut,
    CouponChoiceOut,
    QuoteIn,
    QuoteLineOut,
    QuoteOut,
)


def coupon_to_engine(coupon: Coupon, template: CouponTemplate) -> engine.Coupon:
    kind: engine.CouponKind = (
        "percent"
        if template.kind == "percent"
        else "threshold"
        if template.kind == "threshold"
        else "fixed"
    )
    return engine.Coupon(
        id=str(coupon.id),
        name=template.name,
        kind=kind,
        scope=scope_of(template.scope, template.scope_ids),
        min_spend_fen=template.min_spend_fen,
        off_fen=template.off_fen,
        rate_bp=template.rate_bp,
        max_off_fen=template.max_off_fen,
        valid_until=coupon.valid_until,
    )


async def quote(session: AsyncSession, catalog: CatalogPeer, body: QuoteIn) -> QuoteOut:
    skus = await catalog.skus([line.sku_id for line in body.lines])
    unknown = [line.sku_id for line in body.lines if line.sku_id not in skus]
    if unknown:
        raise QuoteSkuUnknown(
            "Some items are unknown.", details=[{"sku_id": str(s)} for s in unknown]
        )
    lines = [
        engine.Line(
            sku_id=str(line.sku_id),
            product_id=str(skus[line.sku_id].product_id),
            category_ids=frozenset(str(c) for c in skus[line.sku_id].category_path),
            unit_price_fen=line.unit_price_fen,
            quantity=line.quantity,
        )
        for line in body.lines
    ]
    now = now_utc()
    running = [to_engine(p) for p in await promotions.running(session, now)]
    wallet_rows = await coupons.usable(session, body.member_id, now)
    wallet = [coupon_to_engine(c, t) for c, t in wallet_rows]
    chosen: engine.Coupon | None = None
    if body.coupon_id is not None:
        chosen = next((c for c in wallet if c.id == str(body.coupon_id)), None)
        if chosen is None:
            raise CouponNotApplicable(
                "This coupon is not yours, already used, held by another order or expired."
            )
    level = engine.Level(body.level.name, body.level.discount_rate_bp) if body.level else None
    result = engine.quote(lines, level=level, promotions=running, coupon=chosen, wallet=wallet)
    if chosen is not None and result.coupon is None:
        raise CouponNotApplicable(
            f"This coupon does not apply: {result.coupon_refusal}.",
            details=[{"coupon_id": str(body.coupon_id), "reason": result.coupon_refusal}],
        )
    return _out(result)


def _choice(result: engine.CouponResult | None) -> CouponChoiceOut | None:
    if result is None:
        return None
    return CouponChoiceOut(
        coupon_id=uuid.UUID(result.coupon.id),
        name=result.coupon.name,
        discount_fen=result.discount_fen,
    )


def _adjustment(a: engine.Adjustment) -> AdjustmentOut:
    return AdjustmentOut(kind=a.kind, rule=a.rule, amount_fen=a.amount_fen, source_id=a.source_id)


def _out(result: engine.Quote) -> QuoteOut:
    return QuoteOut(
        lines=[
            QuoteLineOut(
                sku_id=uuid.UUID(q.line.sku_id),
                quantity=q.line.quantity,
                unit_price_fen=q.line.unit_price_fen,
                promo_unit_price_fen=q.unit_price_fen,
                amount_fen=q.line.amount_fen,
                discount_fen=q.discount_fen,
                paid_fen=q.paid_fen,
                adjustments=[_adjustment(a) for a in q.adjustments],
            )
            for q in result.lines
        ],
        goods_fen=result.goods_fen,
        discounts=[_adjustment(a) for a in result.discounts],
        discount_fen=result.discount_fen,
        total_fen=result.total_fen,
        coupon=_choice(result.coupon),
        suggested_coupon=_choice(result.suggestion),
        usable_coupons=[c for c in (_choice(r) for r in result.usable_coupons) if c is not None],
    )
