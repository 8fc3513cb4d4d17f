"""Referral: members (``/api/v1/marketing/referrals``) and staff
(``/admin/v1/marketing/referrals``: rates, bindings, commissions, settlements)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from shared.db import SessionDep
from shared.identity import CurrentMemberId, CurrentStaff, require_roles
from shared.pagination import Page, PageParamsDep
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from marketing.models import CommissionEntry, CommissionRate, CommissionSettlement
from marketing.referrals import service
from marketing.referrals.errors import RateNotFound
from marketing.referrals.schemas import (
    BindIn,
    BindingOut,
    EntryOut,
    MyReferralOut,
    RateIn,
    RateOut,
    ReferrerSummary,
    SettleIn,
    SettlementOut,
)

router = APIRouter(prefix="/api/v1/marketing/referrals", tags=["referral"])
admin = APIRouter(
    prefix="/admin/v1/marketing/referrals",
    tags=["referral (staff)"],
    dependencies=[require_roles("operator")],
)
Scope = Literal["product", "category"]


@router.get("/me")
async def my_referral(member_id: CurrentMemberId, session: SessionDep) -> MyReferralOut:
    return await service.mine(session, member_id)


@router.post("/bind")
async def bind(body: BindIn, member_id: CurrentMemberId, session: SessionDep) -> BindingOut:
    """Called when a member opens a share link: the first binding wins."""
    return await service.bind(session, member_id, body.referrer_code)


@router.get("/commissions")
async def my_commissions(
    member_id: CurrentMemberId, session: SessionDep, params: PageParamsDep
) -> Page[EntryOut]:
    return await _entries(session, params, referrer_id=member_id, status=None)


async def _entries(
    session: SessionDep,
    params: PageParamsDep,
    *,
    referrer_id: uuid.UUID | None,
    status: str | None,
) -> Page[EntryOut]:
    query = select(CommissionEntry)
    if referrer_id is not None:
        query = query.where(CommissionEntry.referrer_id == referrer_id)
    if status is not None:
        query = query.where(CommissionEntry.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(CommissionEntry.created_at.desc(), CommissionEntry.id)
        .offset(params.offset)
        .limit(params.page_size)
    )
    return Page.of([EntryOut.model_validate(r) for r in rows], int(total or 0), params)


@admin.get("/rates")
async def list_rates(session: SessionDep) -> list[RateOut]:
    rows = await session.scalars(select(CommissionRate).order_by(CommissionRate.scope))
    return [RateOut.model_validate(r) for r in rows]


@admin.put("/rates/{scope}/{target_id}")
async def put_rate(
    scope: Scope, target_id: uuid.UUID, body: RateIn, session: SessionDep
) -> RateOut:
    """The rate (basis points of the paid amount) for a product or a category."""
    row = await session.scalar(
        insert(CommissionRate)
        .values(scope=scope, target_id=target_id, rate_bp=body.rate_bp)
        .on_conflict_do_update(
            index_elements=[CommissionRate.scope, CommissionRate.target_id],
            set_={"rate_bp": body.rate_bp, "updated_at": func.now()},
        )
        .returning(CommissionRate)
    )
    return RateOut.model_validate(row)


@admin.delete("/rates/{scope}/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rate(scope: Scope, target_id: uuid.UUID, session: SessionDep) -> None:
    result = await session.execute(
        delete(CommissionRate).where(
            CommissionRate.scope == scope, CommissionRate.target_id == target_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise RateNotFound("No such rate.")


@admin.get("/commissions")
async def list_commissions(
    session: SessionDep,
    params: PageParamsDep,
    referrer_id: uuid.UUID | None = None,
    status: Annotated[Literal["pending", "settled"] | None, Query()] = None,
) -> Page[EntryOut]:
    return await _entries(session, params, referrer_id=referrer_id, status=status)


@admin.get("/referrers")
async def referrer_summaries(
    session: SessionDep, referrer_id: uuid.UUID | None = None
) -> list[ReferrerSummary]:
    """Per referrer: pending (to settle) and settled totals."""
    return await service.summaries(session, referrer_id=referrer_id)


@admin.post("/settlements", status_code=status.HTTP_201_CREATED)
async def settle(body: SettleIn, staff: CurrentStaff, session: SessionDep) -> SettlementOut:
    settlement = await service.settle(
        session, body.referrer_id, f"staff:{staff.staff_id}", body.note
    )
    return SettlementOut.model_validate(settlement)


@admin.get("/settlements")
async def list_settlements(
    session: SessionDep, params: PageParamsDep, referrer_id: uuid.UUID | None = None
) -> Page[SettlementOut]:
    query = select(CommissionSettlement)
    if referrer_id is not None:
        query = query.where(CommissionSettlement.referrer_id == referrer_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(CommissionSettlement.created_at.desc())
        .offset(params.offset)
        .limit(params.page_size)
    )
    return Page.of([SettlementOut.model_validate(r) for r in rows], int(total or 0), params)
