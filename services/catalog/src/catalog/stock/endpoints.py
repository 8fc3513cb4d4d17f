"""Stock: the internal API order uses (SKU snapshots, reservations; not routed by the gateway),
staff adjustments and ledger, supplier stock pushes by their own SKU code."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from shared.db import SessionDep
from shared.errors import Unprocessable
from shared.identity import CurrentStaff, CurrentSupplier, require_roles
from shared.pagination import Page, PageParamsDep
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Sku
from catalog.products.errors import SkuNotFound
from catalog.settings import CatalogSettings
from catalog.stock import repository, service
from catalog.stock.errors import ReservationNotFound
from catalog.stock.schemas import (
    AdjustmentCreate,
    LedgerEntryRead,
    ReservationCreate,
    ReservationRead,
    ReservationStatus,
    SkuSnapshot,
    SkuSnapshots,
    StockRead,
    StockSet,
)

internal = APIRouter(prefix="/internal/v1/catalog", tags=["stock (internal)"])
admin = APIRouter(
    prefix="/admin/v1/catalog", tags=["stock (staff)"], dependencies=[require_roles("operator")]
)
open_api = APIRouter(prefix="/open/v1/catalog", tags=["stock (suppliers)"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
MAX_SNAPSHOT_IDS = 200


def _settings(request: Request) -> CatalogSettings:
    settings: CatalogSettings = request.app.state.settings
    return settings


def _stock(sku: Sku) -> StockRead:
    return StockRead(sku_id=sku.id, available=sku.available, reserved=sku.reserved, sold=sku.sold)


async def _fresh(session: AsyncSession, sku_id: uuid.UUID) -> StockRead:
    sku = await repository.lock_sku(session, sku_id)
    if sku is None:
        raise SkuNotFound("No such SKU.")
    return _stock(sku)


# -- internal (order) ----------------------------------------------------------------------


@internal.get("/skus")
async def sku_snapshots(
    session: SessionDep, ids: Annotated[str, Query(description="comma-separated SKU ids")]
) -> SkuSnapshots:
    try:
        wanted = list(dict.fromkeys(uuid.UUID(i) for i in ids.split(",") if i.strip()))
    except ValueError as exc:
        raise Unprocessable("ids must be comma-separated UUIDs.") from exc
    if len(wanted) > MAX_SNAPSHOT_IDS:
        raise Unprocessable(f"At most {MAX_SNAPSHOT_IDS} ids.")
    rows = await repository.snapshots(session, wanted) if wanted else []
    return SkuSnapshots(
        items=[
            SkuSnapshot.model_validate({**r, "status": r["status"] if r["active"] else "off_shelf"})
            for r in rows
        ]
    )


@internal.post("/reservations", status_code=status.HTTP_201_CREATED)
async def reserve(
    body: ReservationCreate, session: SessionDep, request: Request, response: Response
) -> ReservationRead:
    settings = _settings(request)
    ttl = min(body.ttl_s or settings.reservation_default_ttl_s, settings.reservation_max_ttl_s)
    reservation, created = await service.reserve(
        session, body.reservation_key, body.items, ttl, low_threshold=settings.low_stock_threshold
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return reservation


@internal.get("/reservations/{reservation_key}")
async def get_reservation(reservation_key: str, session: SessionDep) -> ReservationRead:
    row = await repository.reservation(session, reservation_key)
    if row is None:
        raise ReservationNotFound("No reservation has this key.")
    return service.read(row)


@internal.post("/reservations/{reservation_key}/commit")
async def commit(reservation_key: str, session: SessionDep) -> ReservationStatus:
    await service.commit(session, reservation_key)
    return ReservationStatus(status="committed")


@internal.post("/reservations/{reservation_key}/release")
async def release(reservation_key: str, session: SessionDep) -> ReservationStatus:
    await service.release(session, reservation_key, reason="released")
    return ReservationStatus(status="released")


# -- staff ---------------------------------------------------------------------------------


@admin.get("/skus/{sku_id}/stock")
async def get_stock(sku_id: uuid.UUID, session: SessionDep) -> StockRead:
    return await _fresh(session, sku_id)


@admin.post("/skus/{sku_id}/stock-adjustments", status_code=status.HTTP_201_CREATED)
async def adjust(
    sku_id: uuid.UUID,
    body: AdjustmentCreate,
    session: SessionDep,
    request: Request,
    staff: CurrentStaff,
    idempotency_key: IdempotencyKey = None,
) -> StockRead:
    await service.adjust(
        session,
        sku_id,
        body.delta,
        reason=body.reason,
        actor=f"staff:{staff.staff_id}",
        reference=idempotency_key,
        low_threshold=_settings(request).low_stock_threshold,
    )
    return await _fresh(session, sku_id)


@admin.get("/skus/{sku_id}/stock-ledger")
async def ledger(
    sku_id: uuid.UUID, session: SessionDep, params: PageParamsDep
) -> Page[LedgerEntryRead]:
    rows, total = await repository.ledger_page(session, sku_id, params.offset, params.page_size)
    return Page.of([LedgerEntryRead.model_validate(r) for r in rows], total, params)


# -- suppliers -----------------------------------------------------------------------------


async def _own_sku(session: AsyncSession, supplier_id: str, sku_code: str) -> Sku:
    sku = await repository.sku_by_code(session, supplier_id, sku_code)
    if sku is None:
        raise SkuNotFound("You have no SKU with this code.")
    return sku


@open_api.put("/skus/{sku_code}/stock")
async def set_stock(
    sku_code: str,
    body: StockSet,
    session: SessionDep,
    request: Request,
    supplier: CurrentSupplier,
) -> StockRead:
    sku = await _own_sku(session, supplier.supplier_id, sku_code)
    await service.set_available(
        session,
        sku.id,
        body.available,
        reason=body.reason,
        actor=f"supplier:{supplier.supplier_id}",
        low_threshold=_settings(request).low_stock_threshold,
    )
    return await _fresh(session, sku.id)


@open_api.post("/skus/{sku_code}/stock-adjustments", status_code=status.HTTP_201_CREATED)
async def supplier_adjust(
    sku_code: str,
    body: AdjustmentCreate,
    session: SessionDep,
    request: Request,
    supplier: CurrentSupplier,
    idempotency_key: IdempotencyKey = None,
) -> StockRead:
    sku = await _own_sku(session, supplier.supplier_id, sku_code)
    await service.adjust(
        session,
        sku.id,
        body.delta,
        reason=body.reason,
        actor=f"supplier:{supplier.supplier_id}",
        reference=idempotency_key,
        low_threshold=_settings(request).low_stock_threshold,
    )
    return await _fresh(session, sku.id)
