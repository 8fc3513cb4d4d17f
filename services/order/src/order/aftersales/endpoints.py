"""After-sales: members ask (``/api/v1/orders/{id}/after-sales``), staff decide
(``/admin/v1/orders/after-sales/{id}/approve|reject``)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import CurrentStaff, require_roles
from sqlalchemy import select

from order.aftersales import service
from order.aftersales.schemas import AfterSaleIn, AfterSaleOut, DecisionIn
from order.deps import MemberIdDep
from order.models import AfterSale
from order.orders import lifecycle, queries

router = APIRouter(prefix="/api/v1/orders/{order_id}/after-sales", tags=["after-sales"])
admin = APIRouter(
    prefix="/admin/v1/orders/after-sales",
    tags=["after-sales (staff)"],
    dependencies=[require_roles("customer_service")],
)


@router.post("", status_code=status.HTTP_201_CREATED)
async def request_after_sale(
    order_id: uuid.UUID, body: AfterSaleIn, member_id: MemberIdDep, session: SessionDep
) -> AfterSaleOut:
    await queries.for_member(session, member_id, order_id)
    order = await lifecycle.locked(session, order_id)
    return AfterSaleOut.model_validate(await service.request(session, order, body, member_id))


@router.get("")
async def list_after_sales(
    order_id: uuid.UUID, member_id: MemberIdDep, session: SessionDep
) -> list[AfterSaleOut]:
    await queries.for_member(session, member_id, order_id)
    rows = await session.scalars(
        select(AfterSale).where(AfterSale.order_id == order_id).order_by(AfterSale.created_at)
    )
    return [AfterSaleOut.model_validate(r) for r in rows]


@admin.post("/{sale_id}/approve")
async def approve(
    sale_id: uuid.UUID, body: DecisionIn, staff: CurrentStaff, session: SessionDep
) -> AfterSaleOut:
    sale = await service.locked_sale(session, sale_id)
    await service.approve(session, sale, body, f"staff:{staff.staff_id}")
    return AfterSaleOut.model_validate(sale)


@admin.post("/{sale_id}/reject")
async def reject(
    sale_id: uuid.UUID, body: DecisionIn, staff: CurrentStaff, session: SessionDep
) -> AfterSaleOut:
    sale = await service.locked_sale(session, sale_id)
    await service.reject(session, sale, body, f"staff:{staff.staff_id}")
    return AfterSaleOut.model_validate(sale)
