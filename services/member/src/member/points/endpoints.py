"""Points: the member's balance and ledger, daily sign-in; holds for the order service
(internal, not routed by the gateway); adjustments by staff."""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import require_roles
from shared.pagination import Page, PageParamsDep

from member.deps import MemberIdDep, SettingsDep
from member.members import repository as members_repository
from member.members.errors import MemberGone, MemberNotFound
from member.points import repository, service
from member.points.schemas import (
    AdjustmentCreate,
    HoldCreate,
    HoldRead,
    PointsEntryRead,
    PointsRead,
    SignInRead,
)

router = APIRouter(prefix="/api/v1/members/me/points", tags=["points"])
internal = APIRouter(prefix="/internal/v1/members/{member_id}/points", tags=["points (internal)"])
admin = APIRouter(prefix="/admin/v1/members/{member_id}/points", tags=["points (staff)"])


@router.get("")
async def my_points(
    member_id: MemberIdDep, session: SessionDep, params: PageParamsDep
) -> PointsRead:
    member = await members_repository.active(session, member_id)
    if member is None:
        raise MemberGone("This account no longer exists.")
    rows, total = await repository.ledger_page(session, member_id, params.offset, params.page_size)
    return PointsRead(
        balance=member.points_balance,
        held=member.points_held,
        ledger=Page.of([PointsEntryRead.model_validate(r) for r in rows], total, params),
    )


@router.post("/sign-ins", status_code=status.HTTP_201_CREATED)
async def sign_in(member_id: MemberIdDep, session: SessionDep, settings: SettingsDep) -> SignInRead:
    day = datetime.now(ZoneInfo(settings.timezone)).date().isoformat()
    try:
        entry = await service.sign_in(session, member_id, day, settings.sign_in_points)
    except MemberNotFound as exc:
        raise MemberGone("This account no longer exists.") from exc
    return SignInRead(day=day, points=entry.delta, balance=entry.balance_after)


@internal.post("/holds", status_code=status.HTTP_201_CREATED)
async def hold(member_id: uuid.UUID, body: HoldCreate, session: SessionDep) -> HoldRead:
    held = await service.hold(session, member_id, body.points, reference=body.reference)
    return HoldRead.model_validate(held)


@internal.post("/holds/{reference}/commit")
async def commit(member_id: uuid.UUID, reference: str, session: SessionDep) -> HoldRead:
    return HoldRead.model_validate(await service.commit(session, member_id, reference=reference))


@internal.post("/holds/{reference}/release")
async def release(member_id: uuid.UUID, reference: str, session: SessionDep) -> HoldRead:
    return HoldRead.model_validate(await service.release(session, member_id, reference=reference))


@admin.post(
    "/adjustments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_roles("operator", "customer_service")],
)
async def adjust(
    member_id: uuid.UUID, body: AdjustmentCreate, session: SessionDep
) -> PointsEntryRead:
    entry = await service.adjust(
        session, member_id, body.delta, reference=body.reference, reason=body.reason
    )
    return PointsEntryRead.model_validate(entry)
