"""Flash-sale routes. The purchase and the ticket poll are normally answered by the raw
ASGI fast path (``hot``) before FastAPI; the routes here document them and answer what
the fast path hands on (PostgreSQL needed, errors, validation)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from shared.db import SessionDep
from shared.identity import CurrentMemberId, CurrentStaff, require_roles
from shared.pagination import Page, PageParamsDep

from marketing.flash_sales import repository, service
from marketing.flash_sales.clients import FlashPeers
from marketing.flash_sales.desk import Desk, shared_desk
from marketing.flash_sales.errors import FlashSaleLoadFailed, FlashSaleNotFound
from marketing.flash_sales.schemas import (
    FlashSaleAdminRead,
    FlashSaleCreate,
    FlashSaleRead,
    PurchaseIn,
    ReconcileReport,
    TicketOut,
    TokenOut,
)
from marketing.flash_sales.worker import FlashSaleWorker
from marketing.settings import MarketingSettings

router = APIRouter(prefix="/api/v1/marketing/flash-sales", tags=["flash sales"])
admin = APIRouter(
    prefix="/admin/v1/marketing/flash-sales",
    tags=["flash sales (staff)"],
    dependencies=[require_roles("operator")],
)


def _settings(request: Request) -> MarketingSettings:
    settings: MarketingSettings = request.app.state.settings
    return settings


def _desk(request: Request) -> Desk:
    return shared_desk(request.app, _settings(request))


def _peers(request: Request) -> FlashPeers:
    state = request.app.state
    if getattr(state, "flash_peers", None) is None:
        state.flash_peers = FlashPeers.build(_settings(request))
    peers: FlashPeers = state.flash_peers
    return peers


def _worker(request: Request) -> FlashSaleWorker:
    state = request.app.state
    return FlashSaleWorker(_settings(request), state.sessionmaker, state.redis, _peers(request))


@router.get("", response_model=Page[FlashSaleRead])
async def list_sales(
    request: Request, session: SessionDep, page: PageParamsDep
) -> Page[FlashSaleRead]:
    """Running and upcoming sales, soonest first; ``remaining_units`` is live."""
    now = service.now_utc()
    sales, total = await repository.visible_sales(session, now, page.offset, page.page_size)
    remaining = await service.remaining_units(request.app.state.redis, list(sales))
    items = [service.public_read(s, remaining.get(s.id), now) for s in sales]
    return Page.of(items, total, page)


@router.post("/{sale_id}/token", response_model=TokenOut)
async def purchase_token(
    request: Request, sale_id: uuid.UUID, session: SessionDep, member_id: CurrentMemberId
) -> TokenOut:
    """A short-lived purchase token for this member and sale (from shortly before the
    start). A purchase without one is refused with 403 ``purchase_token_invalid``."""
    sale = await service.get_sale(session, sale_id)
    return service.issue_token(sale, str(member_id), _settings(request))


@router.post("/{sale_id}/purchase", response_model=TicketOut, status_code=status.HTTP_202_ACCEPTED)
async def purchase(
    request: Request,
    sale_id: uuid.UUID,
    body: PurchaseIn,
    session: SessionDep,
    member_id: CurrentMemberId,
    x_purchase_token: Annotated[str | None, Header(max_length=64)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> TicketOut:
    """One atomic step in Redis (window, units left, per-member limit, repeats): 202 with a
    ticket, or 409 ``sold_out`` / ``purchase_limit_reached`` / ``sale_not_started`` /
    ``sale_ended`` at once. The order follows; poll the ticket."""
    return await service.purchase(
        session, _desk(request), sale_id, str(member_id), body, x_purchase_token, idempotency_key
    )


@router.get("/tickets/{ticket}", response_model=TicketOut)
async def ticket(
    request: Request, ticket: str, session: SessionDep, member_id: CurrentMemberId
) -> TicketOut:
    """``queued`` until the order is made, then ``ordered`` with ``order_id``, or
    ``rejected`` with a ``reason``."""
    return await service.ticket_status(session, _desk(request), ticket, str(member_id))


async def _admin_read(
    request: Request, session: SessionDep, sale_id: uuid.UUID
) -> FlashSaleAdminRead:
    sale = await service.get_sale(session, sale_id)
    remaining = await service.remaining_units(request.app.state.redis, [sale])
    counts = await repository.counts(session, [sale.id])
    return service.admin_read(
        sale, remaining.get(sale.id), counts.get(sale.id, {}), service.now_utc()
    )


@admin.post("", response_model=FlashSaleAdminRead, status_code=status.HTTP_201_CREATED)
async def create_sale(
    request: Request, body: FlashSaleCreate, session: SessionDep, staff: CurrentStaff
) -> FlashSaleAdminRead:
    """Schedule a sale. Its units are held at catalog and loaded into Redis
    ``MARKETING_FLASH_SALE_PRELOAD_S`` before it starts (at once if that is now)."""
    sessionmaker = request.app.state.sessionmaker
    async with sessionmaker() as own, own.begin():
        sale = await service.create(own, _peers(request), body, staff.staff_id)
    if service.due_for_loading(sale, _settings(request), service.now_utc()):
        async with sessionmaker() as own, own.begin():
            locked = await repository.sale(own, sale.id, lock=True)
            assert locked is not None
            await service.load(own, request.app.state.redis, _peers(request), locked)
    return await _admin_read(request, session, sale.id)


@admin.get("", response_model=Page[FlashSaleAdminRead])
async def list_all(
    request: Request, session: SessionDep, page: PageParamsDep
) -> Page[FlashSaleAdminRead]:
    sales, total = await repository.all_sales(session, page.offset, page.page_size)
    remaining = await service.remaining_units(request.app.state.redis, list(sales))
    counts = await repository.counts(session, [s.id for s in sales])
    now = service.now_utc()
    items = [service.admin_read(s, remaining.get(s.id), counts.get(s.id, {}), now) for s in sales]
    return Page.of(items, total, page)


@admin.get("/{sale_id}", response_model=FlashSaleAdminRead)
async def get_sale(request: Request, sale_id: uuid.UUID, session: SessionDep) -> FlashSaleAdminRead:
    return await _admin_read(request, session, sale_id)


@admin.post("/{sale_id}/load", response_model=FlashSaleAdminRead)
async def load_sale(
    request: Request, sale_id: uuid.UUID, session: SessionDep
) -> FlashSaleAdminRead:
    """Hold the units and load the sale into Redis now (normally automatic)."""
    async with request.app.state.sessionmaker() as own, own.begin():
        sale = await repository.sale(own, sale_id, lock=True)
        if sale is None:
            raise FlashSaleNotFound("No such flash sale.")
        error = None
        if sale.status == "scheduled" and sale.settled_at is None:
            error = await service.load(own, request.app.state.redis, _peers(request), sale)
    if error is not None:
        raise FlashSaleLoadFailed(f"The sale could not be loaded: {error}")
    return await _admin_read(request, session, sale_id)


@admin.post("/{sale_id}/cancel", response_model=FlashSaleAdminRead)
async def cancel_sale(
    request: Request, sale_id: uuid.UUID, session: SessionDep
) -> FlashSaleAdminRead:
    """Stop selling. Orders already made stay; unsold units are released at settlement."""
    async with request.app.state.sessionmaker() as own, own.begin():
        await service.cancel(own, request.app.state.redis, sale_id)
    return await _admin_read(request, session, sale_id)


@admin.post("/{sale_id}/reconcile", response_model=ReconcileReport)
async def reconcile_sale(
    request: Request, sale_id: uuid.UUID, session: SessionDep
) -> ReconcileReport:
    """Compare Redis, tickets, orders and catalog for one sale now, and repair."""
    await service.get_sale(session, sale_id)
    check = await _worker(request).reconcile(sale_id)
    return ReconcileReport(sales=[check] if check else [])
