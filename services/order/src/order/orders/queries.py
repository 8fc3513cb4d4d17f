"""Reading orders: a member sees only their own (others' are 404), staff see all."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from order import states
from order.models import Order, OrderItem, Transition
from order.orders import lifecycle
from order.orders.errors import OrderNotFound
from order.orders.schemas import OrderOut, OrderSummary, StaffOrderOut, TransitionOut


async def for_member(session: AsyncSession, member_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    order = await session.get(Order, order_id)
    if order is None or order.member_id != member_id or order.status not in states.PUBLIC:
        raise OrderNotFound(f"No order {order_id}.")
    return order


async def read(session: AsyncSession, order: Order) -> OrderOut:
    items = await lifecycle.items_of(session, order.id)
    out = OrderOut.model_validate(order)
    return out.model_copy(
        update={
            "items": [lifecycle.item_out(i) for i in items],
            "under_review": order.review_reason is not None,
        }
    )


async def read_for_staff(session: AsyncSession, order_id: uuid.UUID) -> StaffOrderOut:
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(f"No order {order_id}.")
    base = await read(session, order)
    transitions = await session.scalars(
        select(Transition).where(Transition.order_id == order_id).order_by(Transition.id)
    )
    return StaffOrderOut(
        **base.model_dump(),
        member_id=order.member_id,
        transaction_id=order.transaction_id,
        review_reason=order.review_reason,
        transitions=[TransitionOut.model_validate(t) for t in transitions],
    )


async def page(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None,
    status: str | None,
    offset: int,
    limit: int,
    supplier_id: str | None = None,
) -> tuple[list[OrderSummary], int]:
    query = select(Order).where(Order.status.in_([s.value for s in states.PUBLIC]))
    if member_id is not None:
        query = query.where(Order.member_id == member_id)
    if status is not None:
        query = query.where(Order.status == status)
    if supplier_id is not None:
        query = query.where(
            Order.id.in_(select(OrderItem.order_id).where(OrderItem.supplier_id == supplier_id))
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Order.created_at.desc(), Order.id).offset(offset).limit(limit)
    )
    return [OrderSummary.model_validate(o) for o in rows], int(total or 0)
