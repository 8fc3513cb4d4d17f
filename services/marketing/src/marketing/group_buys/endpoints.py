"""Group-buy: members (``/api/v1/marketing/group-buys``; offers and share pages are public)
and staff (``/admin/v1/marketing/group-buys``)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from shared.db import SessionDep
from shared.identity import CurrentMemberId, require_roles
from shared.pagination import Page, PageParamsDep
from sqlalchemy import func, select

from marketing.group_buys import service
from marketing.group_buys.errors import ActivityNotFound, GroupNotFound
from marketing.group_buys.schemas import (
    GroupBuyActivityIn,
    GroupBuyActivityOut,
    GroupBuyActivityPatch,
    GroupOut,
    MembershipOut,
    StaffGroupOut,
)
from marketing.models import GroupBuyActivity, GroupBuyGroup, GroupBuyMember

router = APIRouter(prefix="/api/v1/marketing/group-buys", tags=["group-buy"])
admin = APIRouter(
    prefix="/admin/v1/marketing/group-buys",
    tags=["group-buy (staff)"],
    dependencies=[require_roles("operator")],
)


@router.get("")
async def running_offers(session: SessionDep, params: PageParamsDep) -> Page[GroupBuyActivityOut]:
    at = service.now()
    query = select(GroupBuyActivity).where(
        GroupBuyActivity.enabled.is_(True),
        GroupBuyActivity.starts_at <= at,
        GroupBuyActivity.ends_at > at,
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(GroupBuyActivity.ends_at).offset(params.offset).limit(params.page_size)
    )
    return Page.of([GroupBuyActivityOut.model_validate(r) for r in rows], int(total or 0), params)


@router.get("/mine")
async def my_slots(
    member_id: CurrentMemberId, session: SessionDep, params: PageParamsDep
) -> Page[MembershipOut]:
    query = select(GroupBuyMember).where(GroupBuyMember.member_id == member_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(
        await session.scalars(
            query.order_by(GroupBuyMember.created_at.desc())
            .offset(params.offset)
            .limit(params.page_size)
        )
    )
    return Page.of(
        [await service.membership_out(session, r) for r in rows], int(total or 0), params
    )


@router.get("/groups/{group_id}")
async def share_page(group_id: uuid.UUID, session: SessionDep) -> GroupOut:
    group = await session.get(GroupBuyGroup, group_id)
    if group is None:
        raise GroupNotFound(f"No group {group_id}.")
    return await service.group_out(session, group)


@router.post("/{activity_id}/groups", status_code=status.HTTP_201_CREATED)
async def open_group(
    activity_id: uuid.UUID, member_id: CurrentMemberId, session: SessionDep
) -> MembershipOut:
    """Open a group as its leader; order with ``activity: {kind: group_buy, ref}``."""
    slot = await service.open_group(session, member_id, activity_id)
    return await service.membership_out(session, slot)


@router.post("/groups/{group_id}/join", status_code=status.HTTP_201_CREATED)
async def join_group(
    group_id: uuid.UUID, member_id: CurrentMemberId, session: SessionDep
) -> MembershipOut:
    slot = await service.join(session, member_id, group_id)
    return await service.membership_out(session, slot)


@admin.post("", status_code=status.HTTP_201_CREATED)
async def create_offer(body: GroupBuyActivityIn, session: SessionDep) -> GroupBuyActivityOut:
    activity = GroupBuyActivity(id=uuid.uuid4(), **body.model_dump())
    session.add(activity)
    await session.flush()
    return GroupBuyActivityOut.model_validate(activity)


@admin.get("")
async def list_offers(session: SessionDep, params: PageParamsDep) -> Page[GroupBuyActivityOut]:
    total = await session.scalar(select(func.count()).select_from(GroupBuyActivity))
    rows = await session.scalars(
        select(GroupBuyActivity)
        .order_by(GroupBuyActivity.created_at.desc())
        .offset(params.offset)
        .limit(params.page_size)
    )
    return Page.of([GroupBuyActivityOut.model_validate(r) for r in rows], int(total or 0), params)


@admin.patch("/{activity_id}")
async def update_offer(
    activity_id: uuid.UUID, body: GroupBuyActivityPatch, session: SessionDep
) -> GroupBuyActivityOut:
    """Rename, end earlier or later, or disable (groups already open run to their end)."""
    activity = await session.get(GroupBuyActivity, activity_id, with_for_update=True)
    if activity is None:
        raise ActivityNotFound(f"No group-buy {activity_id}.")
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(activity, key, value)
    await session.flush()
    return GroupBuyActivityOut.model_validate(activity)


@admin.get("/groups")
async def list_groups(
    session: SessionDep,
    params: PageParamsDep,
    activity_id: uuid.UUID | None = None,
    status: Annotated[
        Literal["pending", "forming", "succeeded", "failed", "cancelled"] | None, Query()
    ] = None,
) -> Page[StaffGroupOut]:
    query = select(GroupBuyGroup)
    if activity_id is not None:
        query = query.where(GroupBuyGroup.activity_id == activity_id)
    if status is not None:
        query = query.where(GroupBuyGroup.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(
        await session.scalars(
            query.order_by(GroupBuyGroup.created_at.desc())
            .offset(params.offset)
            .limit(params.page_size)
        )
    )
    return Page.of(
        [await service.staff_group_out(session, g) for g in rows], int(total or 0), params
    )


@admin.get("/groups/{group_id}")
async def get_group(group_id: uuid.UUID, session: SessionDep) -> StaffGroupOut:
    group = await session.get(GroupBuyGroup, group_id)
    if group is None:
        raise GroupNotFound(f"No group {group_id}.")
    return await service.staff_group_out(session, group)
