"""Staff (finance): ``/admin/v1/payments/reconciliations``."""

from fastapi import APIRouter
from shared.db import SessionDep
from shared.identity import CurrentStaff, require_roles
from shared.pagination import Page, PageParamsDep

from payment.deps import ServicesDep
from payment.reconciliations import repository, service
from payment.reconciliations.schemas import ReconciliationIn, ReconciliationRead

admin = APIRouter(
    prefix="/admin/v1/payments/reconciliations",
    tags=["reconciliations (staff)"],
    dependencies=[require_roles("finance")],
)


@admin.get("")
async def list_reconciliations(
    session: SessionDep, params: PageParamsDep
) -> Page[ReconciliationRead]:
    rows, total = await repository.page(session, params)
    return Page.of([ReconciliationRead.model_validate(r) for r in rows], total, params)


@admin.post("", status_code=201)
async def run_reconciliation(
    body: ReconciliationIn, staff: CurrentStaff, session: SessionDep, services: ServicesDep
) -> ReconciliationRead:
    """Download the day's trade bill and store the differences with our payments."""
    row = await service.run(session, services.wechatpay, body.date, f"staff:{staff.staff_id}")
    return ReconciliationRead.model_validate(row)
