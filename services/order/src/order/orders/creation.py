"""Order creation as a saga: each hold is taken after a durable record of the attempt, and
given back if a later step fails.

1. the order is written as ``creating`` (committed): from here a crash is recoverable;
2. stock is reserved at catalog (key: the order id);
3. points are held at member (reference: the order id);
4. the coupon is locked at marketing (key: the order id), if the quote applied one;
5. ``creating`` → ``pending_payment`` with ``order.created`` in the outbox, in one commit.
If 2–4 fail, what was taken is released and the order becomes ``failed``; the client gets
the refusing service's 409/422. If the process dies in between, the sweeper finds the
order still ``creating`` after ``creating_timeout_s`` and does the same.
"""

import uuid
from datetime import UTC, datetime, timedelta

from shared.errors import AppError, ServiceUnavailable
from shared.http import UpstreamError
from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from order.deps import Services
from order.models import CartLine, Order, OrderItem, Transition
from order.orders import activities, lifecycle
from order.orders.quotes import Quote, quote
from order.orders.schemas import CheckoutIn, OrderOut
from order.states import Status

log = get_logger(__name__)

RESERVATION_MARGIN_S = 600  # stock outlives the payment window; release comes by event


async def create(services: Services, member_id: uuid.UUID, body: CheckoutIn) -> OrderOut:
    async with services.sessionmaker() as session:
        priced = await quote(services, session, member_id, body)
    order_id = uuid.uuid4()
    await _record_attempt(services, order_id, member_id, body, priced)
    try:
        await activities.claim(services, order_id, member_id, body)  # group-buy, bargain
        await services.catalog.reserve(
            str(order_id),
            [(i.sku_id, i.quantity) for i in body.items],
            ttl_s=services.settings.unpaid_timeout_s + RESERVATION_MARGIN_S,
        )
        if priced.breakdown.points_used:
            await services.member.hold_points(
                member_id, str(order_id), priced.breakdown.points_used
            )
        # --- pricing, promotions and coupons ---
        if priced.coupon is not None:
            await services.marketing.lock_coupon(
                priced.coupon.coupon_id, member_id, order_id, priced.coupon.discount_fen
            )
    except (AppError, OSError) as exc:
        await compensate(services, order_id, member_id, reason=f"creation refused: {exc}")
        if isinstance(exc, UpstreamError) and exc.status_code >= 500:
            raise ServiceUnavailable("A service is unavailable; try again.") from exc
        raise
    return await _confirm(services, order_id, body)


async def _record_attempt(
    services: Services, order_id: uuid.UUID, member_id: uuid.UUID, body: CheckoutIn, priced: Quote
) -> None:
    b = priced.breakdown
    now = datetime.now(UTC)
    async with services.sessionmaker() as session, session.begin():
        session.add(
            Order(
                id=order_id,
                member_id=member_id,
                status=Status.CREATING,
                goods_fen=b.goods_fen,
                discount_fen=b.discount_fen,
                points_used=b.points_used,
                points_fen=b.points_fen,
                freight_fen=b.freight_fen,
                total_fen=b.total_fen,
                refunded_fen=0,
                breakdown=priced.preview().model_dump(mode="json"),
                fulfilment=body.fulfilment,
                address=priced.address.model_dump(mode="json") if priced.address else None,
                pay_deadline_at=now + timedelta(seconds=services.settings.unpaid_timeout_s),
                coupon_id=priced.coupon.coupon_id if priced.coupon else None,
            )
        )
        await session.flush()
        for line, paid in b.lines:
            sku = priced.skus[uuid.UUID(line.sku_id)]
            session.add(
                OrderItem(
                    order_id=order_id,
                    sku_id=sku.sku_id,
                    product_id=sku.product_id,
                    product_name=sku.product_name,
                    specs=sku.specs,
                    image_url=sku.image_url,
                    supplier_id=sku.supplier_id,
                    quantity=line.quantity,
                    unit_price_fen=line.unit_price_fen,
                    paid_fen=paid,
                    refunded_quantity=0,
                )
            )
        session.add(
            Transition(
                order_id=order_id,
                from_status=None,
                to_status=Status.CREATING,
                actor=f"member:{member_id}",
                reason="checkout",
            )
        )


async def _confirm(services: Services, order_id: uuid.UUID, body: CheckoutIn) -> OrderOut:
    async with services.sessionmaker() as session, session.begin():
        order = await session.get(Order, order_id, with_for_update=True)
        if order is None or order.status != Status.CREATING:
            # The sweeper gave up on it meanwhile and released its holds.
            raise ServiceUnavailable("The order could not be completed; try again.")
        lifecycle.move(
            session, order, Status.PENDING_PAYMENT, f"member:{order.member_id}", "holds taken"
        )
        items = await lifecycle.items_of(session, order_id)
        add_event(
            session,
            "order.created",
            str(order_id),
            {
                "order_id": str(order_id),
                "member_id": str(order.member_id),
                "total_fen": order.total_fen,
                "items": lifecycle.item_payload(items),
                "coupon_id": str(order.coupon_id) if order.coupon_id else None,
                "points_used": order.points_used,
                "pay_deadline_at": order.pay_deadline_at.isoformat(),
            },
        )
        if body.from_cart:
            await _remove_from_cart(session, order.member_id, [i.sku_id for i in body.items])
        await session.flush()
        return OrderOut.model_validate(order).model_copy(
            update={"items": [lifecycle.item_out(i) for i in items]}
        )


async def _remove_from_cart(
    session: AsyncSession, member_id: uuid.UUID, sku_ids: list[uuid.UUID]
) -> None:
    await session.execute(
        delete(CartLine).where(CartLine.member_id == member_id, CartLine.sku_id.in_(sku_ids))
    )


async def compensate(
    services: Services, order_id: uuid.UUID, member_id: uuid.UUID, *, reason: str
) -> bool:
    """Give back whatever an unfinished creation took; then mark it ``failed``.

    Returns False (the order stays ``creating`` for the next sweep) if a service could not
    be reached to give something back."""
    try:
        await services.catalog.release(str(order_id))
        await services.member.release_points(member_id, str(order_id))
        await activities.release(services, order_id)  # group-buy, bargain
        # --- pricing, promotions and coupons ---
        if await _coupon_of(services, order_id) is not None:
            await services.marketing.release_coupon(order_id)
    except (AppError, OSError) as exc:
        if not (isinstance(exc, UpstreamError) and exc.status_code == 404):
            log.warning("order.compensation_pending", order_id=str(order_id), error=repr(exc))
            return False
    async with services.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == Status.CREATING)
            .values(status=Status.FAILED, updated_at=datetime.now(UTC))
        )
        if result.rowcount:  # type: ignore[attr-defined]
            session.add(
                Transition(
                    order_id=order_id,
                    from_status=Status.CREATING,
                    to_status=Status.FAILED,
                    actor="system",
                    reason=reason[:500],
                )
            )
    return True


# --- pricing, promotions and coupons ---


async def _coupon_of(services: Services, order_id: uuid.UUID) -> uuid.UUID | None:
    async with services.sessionmaker() as session:
        coupon_id: uuid.UUID | None = await session.scalar(
            select(Order.coupon_id).where(Order.id == order_id)
        )
        return coupon_id
