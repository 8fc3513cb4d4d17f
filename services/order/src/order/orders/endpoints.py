"""Orders: the member's (``/api/v1/orders``), staff's (``/admin/v1/orders``), suppliers'
(``/open/v1/orders``) and the internal view for payment."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse
from shared.db import SessionDep
from shared.errors import AppError, error_body
from shared.identity import CurrentStaff, CurrentSupplier, require_roles
from shared.pagination import Page, PageParamsDep

from order import idempotency
from order.deps import MemberIdDep, ServicesDep
from order.models import Order
from order.orders import creation, lifecycle, queries
from order.orders.errors import (
    IdempotencyKeyRequired,
    NotYourItems,
    OrderNotFound,
    PickupCodeWrong,
)
from order.orders.quotes import quote
from order.orders.schemas import (
    CancelIn,
    CheckoutIn,
    InternalOrderOut,
    InvoiceIn,
    OrderOut,
    OrderSummary,
    PickupIn,
    PreviewOut,
    ShipIn,
    StaffOrderOut,
)
from order.states import Status

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
admin = APIRouter(
    prefix="/admin/v1/orders",
    tags=["orders (staff)"],
    dependencies=[require_roles("operator", "customer_service")],
)
open_api = APIRouter(prefix="/open/v1/orders", tags=["orders (suppliers)"])
internal = APIRouter(prefix="/internal/v1/orders", tags=["orders (internal)"])

StatusFilter = Annotated[
    Literal["pending_payment", "paid", "shipped", "completed", "cancelled", "refunding", "refunded"]
    | None,
    Query(),
]


@router.post("/preview")
async def preview(
    body: CheckoutIn, member_id: MemberIdDep, session: SessionDep, services: ServicesDep
) -> PreviewOut:
    """The price breakdown, computed by the same code as order creation."""
    return (await quote(services, session, member_id, body)).preview()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def create_order(
    body: CheckoutIn,
    member_id: MemberIdDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=idempotency.MAX_KEY_LENGTH)] = None,
) -> JSONResponse:
    """Create an order. ``Idempotency-Key`` is required: the same key and body always get the
    same answer."""
    if not idempotency_key:
        raise IdempotencyKeyRequired("Send an Idempotency-Key header.")
    digest = idempotency.request_hash(body)
    stored = await idempotency.claim(services, member_id, idempotency_key, digest)
    if stored is not None:
        return JSONResponse(stored[1], status_code=stored[0])
    try:
        order = await creation.create(services, member_id, body)
    except AppError as exc:
        if exc.status_code >= 500:
            await idempotency.release(services, member_id, idempotency_key)
            raise
        answer = error_body(exc.code, exc.message, exc.details)
        await idempotency.finish(services, member_id, idempotency_key, exc.status_code, answer)
        return JSONResponse(answer, status_code=exc.status_code)
    except BaseException:
        await idempotency.release(services, member_id, idempotency_key)
        raise
    answer = order.model_dump(mode="json")
    await idempotency.finish(services, member_id, idempotency_key, 201, answer)
    return JSONResponse(answer, status_code=201)


@router.get("")
async def list_orders(
    member_id: MemberIdDep, session: SessionDep, params: PageParamsDep, status: StatusFilter = None
) -> Page[OrderSummary]:
    rows, total = await queries.page(
        session, member_id=member_id, status=status, offset=params.offset, limit=params.page_size
    )
    return Page.of(rows, total, params)


@router.get("/{order_id}")
async def get_order(order_id: uuid.UUID, member_id: MemberIdDep, session: SessionDep) -> OrderOut:
    return await queries.read(session, await queries.for_member(session, member_id, order_id))


@router.post("/{order_id}/cancel")
async def cancel_order(
    order_id: uuid.UUID, member_id: MemberIdDep, session: SessionDep, body: CancelIn | None = None
) -> OrderOut:
    await queries.for_member(session, member_id, order_id)
    order = await lifecycle.locked(session, order_id)
    await lifecycle.cancel(session, order, f"member:{member_id}", (body or CancelIn()).reason)
    return await queries.read(session, order)


@router.post("/{order_id}/confirm-receipt")
async def confirm_receipt(
    order_id: uuid.UUID, member_id: MemberIdDep, session: SessionDep
) -> OrderOut:
    await queries.for_member(session, member_id, order_id)
    order = await lifecycle.locked(session, order_id)
    await lifecycle.complete(session, order, f"member:{member_id}", "receipt confirmed")
    return await queries.read(session, order)


@router.put("/{order_id}/invoice")
async def request_invoice(
    order_id: uuid.UUID, body: InvoiceIn, member_id: MemberIdDep, session: SessionDep
) -> OrderOut:
    await queries.for_member(session, member_id, order_id)
    order = await lifecycle.locked(session, order_id)
    order.invoice = {**body.model_dump(), "status": "requested"}
    return await queries.read(session, order)


@admin.get("")
async def staff_list_orders(
    session: SessionDep,
    params: PageParamsDep,
    status: StatusFilter = None,
    member_id: uuid.UUID | None = None,
) -> Page[OrderSummary]:
    rows, total = await queries.page(
        session, member_id=member_id, status=status, offset=params.offset, limit=params.page_size
    )
    return Page.of(rows, total, params)


@admin.get("/{order_id}")
async def staff_get_order(order_id: uuid.UUID, session: SessionDep) -> StaffOrderOut:
    return await queries.read_for_staff(session, order_id)


@admin.post("/{order_id}/ship")
async def staff_ship(
    order_id: uuid.UUID, body: ShipIn, staff: CurrentStaff, session: SessionDep
) -> StaffOrderOut:
    order = await lifecycle.locked(session, order_id)
    await lifecycle.ship(session, order, body.carrier, body.tracking_no, f"staff:{staff.staff_id}")
    await session.flush()
    return await queries.read_for_staff(session, order_id)


@admin.post("/{order_id}/pickup")
async def staff_verify_pickup(
    order_id: uuid.UUID, body: PickupIn, staff: CurrentStaff, session: SessionDep
) -> StaffOrderOut:
    """Store pickup: the member shows their code; staff verify it and hand the goods over."""
    order = await lifecycle.locked(session, order_id)
    if order.fulfilment != "pickup" or order.pickup_code != body.pickup_code:
        raise PickupCodeWrong("That pickup code does not match this order.")
    await lifecycle.complete(session, order, f"staff:{staff.staff_id}", "picked up in store")
    await session.flush()
    return await queries.read_for_staff(session, order_id)


@open_api.get("")
async def supplier_orders(
    supplier: CurrentSupplier,
    session: SessionDep,
    params: PageParamsDep,
    status: StatusFilter = "paid",
) -> Page[OrderSummary]:
    """Orders holding this supplier's items (paid ones by default: what to ship)."""
    rows, total = await queries.page(
        session,
        member_id=None,
        status=status,
        offset=params.offset,
        limit=params.page_size,
        supplier_id=supplier.supplier_id,
    )
    return Page.of(rows, total, params)


@open_api.post("/{order_id}/ship")
async def supplier_ship(
    order_id: uuid.UUID, body: ShipIn, supplier: CurrentSupplier, session: SessionDep
) -> OrderSummary:
    order = await lifecycle.locked(session, order_id)
    items = await lifecycle.items_of(session, order_id)
    if not items or any(i.supplier_id != supplier.supplier_id for i in items):
        raise NotYourItems(f"No order {order_id} of yours.")
    await lifecycle.ship(
        session, order, body.carrier, body.tracking_no, f"supplier:{supplier.supplier_id}"
    )
    return OrderSummary.model_validate(order)


@internal.get("/{order_id}")
async def internal_order(order_id: uuid.UUID, session: SessionDep) -> InternalOrderOut:
    order = await session.get(Order, order_id)
    if order is None or order.status in (Status.CREATING, Status.FAILED):
        raise OrderNotFound(f"No order {order_id}.")
    items = await lifecycle.items_of(session, order_id)
    names = "、".join(i.product_name for i in items)
    return InternalOrderOut(
        order_id=order.id,
        member_id=order.member_id,
        status=order.status,
        total_fen=order.total_fen,
        pay_deadline_at=order.pay_deadline_at,
        description=names[:120] or "minimall order",
        items=lifecycle.item_payload(items),
    )
