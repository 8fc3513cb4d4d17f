"""Bargains: members (``/api/v1/marketing/bargains``; offers and share pages are public)
and staff (``/admin/v1/marketing/bargains``)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import CurrentMemberId, require_roles
from shared.pagination import Page, PageParamsDep
from sqlalchemy import func, select

from marketing.bargains import service
from marketing.bargains.errors import BargainActivityNotFound, BargainNotFound
from marketing.bargains.schemas import (
    BargainActivityIn,
    BargainActivityOut,
    BargainActivityPatch,
    BargainOut,
    HelpResult,
    StaffBargainOut,
)
from marketing.models import Bargain, BargainActivity

router = APIRouter(prefix="/api/v1/marketing/bargains", tags=["bargain"])
admin = APIRouter(
    prefix="/admin/v1/marketing/bargains",
    tags=["bargain (staff)"],
    dependencies=[require_roles("operator")],
)


@router.get("")
async def running_offers(session: SessionDep, params: PageParamsDep) -> Page[BargainActivityOut]:
    at = service.now()
    query = select(BargainActivity).where(
        BargainActivity.enabled.is_(True),
        BargainActivity.starts_at <= at,
        BargainActivity.ends_at > at,
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(BargainActivity.ends_at).offset(params.offset).limit(params.page_size)
    )
    return Page.of([BargainActivityOut.model_validate(r) for r in rows], int(total or 0), params)


@router.get("/mine")
async def my_bargains(
    member_id: CurrentMemberId, session: SessionDep, params: PageParamsDep
) -> Page[BargainOut]:
    query = select(Bargain).where(Bargain.member_id == member_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(
        await session.scalars(
            query.order_by(Bargain.created_at.desc()).offset(params.offset).limit(params.page_size)
        )
    )
    return Page.of([await service.out(session, b) for b in rows], int(total or 0), params)


@router.get("/{bargain_id}")
async def share_page(bargain_id: uuid.UUID, session: SessionDep) -> BargainOut:
    bargain = await session.get(Bargain, bargain_id)
    if bargain is None:
        raise BargainNotFound(f"No bargain {bargain_id}.")
    return await service.out(session, bargain)


@router.post("/offers/{activity_id}/start", status_code=status.HTTP_201_CREATED)
async def start(
    activity_id: uuid.UUID, member_id: CurrentMemberId, session: SessionDep
) -> BargainOut:
    return await service.out(session, await service.start(session, member_id, activity_id))


@router.post("/{bargain_id}/help")
async def help_bargain(
    bargain_id: uuid.UUID, member_id: CurrentMemberId, session: SessionDep
) -> HelpResult:
    return await service.help_cut(session, member_id, bargain_id)


@admin.post("", status_code=status.HTTP_201_CREATED)
async def create_offer(body: BargainActivityIn, session: SessionDep) -> BargainActivityOut:
    activity = BargainActivity(id=uuid.uuid4(), **body.model_dump())
    session.add(activity)
    await session.flush()
    return BargainActivityOut.model_validate(activity)


@admin.get("")
async def list_offers(session: SessionDep, params: PageParamsDep) -> Page[BargainActivityOut]:
    total = await session.scalar(select(func.count()).select_from(BargainActivity))
    rows = await session.scalars(
        select(BargainActivity)
        .order_by(BargainActivity.created_at.desc())
        .offset(params.offset)
        .limit(params.page_size)
    )
    return Page.of([BargainActivityOut.model_validate(r) for r in rows], int(total or 0), params)


@admin.patch("/{activity_id}")
async def update_offer(
    activity_id: uuid.UUID, body: BargainActivityPatch, session: SessionDep
) -> BargainActivityOut:
    activity = await session.get(BargainActivity, activity_id, with_for_update=True)
    if activity is None:
        raise BargainActivityNotFound(f"No bargain offer {activity_id}.")
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(activity, key, value)
    await session.flush()
    return BargainActivityOut.model_validate(activity)


@admin.get("/started")
async def list_bargains(
    session: SessionDep,
    params: PageParamsDep,
    activity_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
) -> Page[StaffBargainOut]:
    query = select(Bargain)
    if activity_id is not None:
        query = query.where(Bargain.activity_id == activity_id)
    if member_id is not None:
        query = query.where(Bargain.member_id == member_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(
        await session.scalars(
            query.order_by(Bargain.created_at.desc()).offset(params.offset).limit(params.page_size)
        )
    )
    items = [
        StaffBargainOut(
            **(await service.out(session, b)).model_dump(),
            member_id=b.member_id,
            order_id=b.order_id,
        )
        for b in rows
    ]
    return Page.of(items, int(total or 0), params)
