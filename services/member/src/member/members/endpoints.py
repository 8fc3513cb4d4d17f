"""The member's own account: ``/api/v1/members/me`` (profile, phone, export, deletion)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep

from member.deps import BoxDep, MemberIdDep, WeChatDep
from member.members import service
from member.members.errors import MemberNotFound
from member.members.schemas import (
    LevelBenefits,
    MemberExport,
    MemberRead,
    MemberUpdate,
    PayerRead,
    PhoneBind,
    PricingProfile,
)
from member.models import Level, Member

router = APIRouter(prefix="/api/v1/members/me", tags=["members"])
internal = APIRouter(prefix="/internal/v1/members", tags=["members (internal)"])


@router.get("")
async def me(member_id: MemberIdDep, session: SessionDep) -> MemberRead:
    return await service.read(session, await service.require_active(session, member_id))


@router.patch("")
async def update_me(member_id: MemberIdDep, body: MemberUpdate, session: SessionDep) -> MemberRead:
    return await service.read(session, await service.update(session, member_id, body))


@router.put("/phone")
async def bind_phone(
    member_id: MemberIdDep, body: PhoneBind, session: SessionDep, box: BoxDep, wechat: WeChatDep
) -> MemberRead:
    member = await service.bind_phone(session, box, wechat, member_id, body.code)
    return await service.read(session, member)


@router.get("/export")
async def export_me(member_id: MemberIdDep, session: SessionDep) -> MemberExport:
    return await service.export(session, member_id)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(member_id: MemberIdDep, session: SessionDep) -> None:
    await service.erase(session, member_id)


@internal.get("/{member_id}/pricing-profile")
async def pricing_profile(member_id: uuid.UUID, session: SessionDep) -> PricingProfile:
    member = await session.get(Member, member_id)
    if member is None or member.status != "active":
        raise MemberNotFound(f"No member {member_id}.")
    level = await session.get(Level, member.level_id) if member.level_id else None
    return PricingProfile(
        member_id=member.id,
        level=LevelBenefits(
            name=level.name,
            discount_rate_bp=level.discount_rate_bp,
            free_shipping=level.free_shipping,
        )
        if level
        else None,
        points_balance=member.points_balance,
    )


@internal.get("/{member_id}/wechat-identity")
async def wechat_identity(member_id: uuid.UUID, session: SessionDep) -> PayerRead:
    """The member's openid for this mini-program (payment's JSAPI payer)."""
    member = await session.get(Member, member_id)
    if member is None or member.status != "active" or member.openid is None:
        raise MemberNotFound(f"No member {member_id}.")
    return PayerRead(member_id=member.id, openid=member.openid)
