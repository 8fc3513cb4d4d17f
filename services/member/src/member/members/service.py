"""Members: registration on first WeChat login, profile, phone binding, export, erasure."""

import uuid
from datetime import UTC, datetime

from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from member.addresses import repository as addresses_repository
from member.addresses.service import address_read
from member.auth import service as auth_service
from member.crypto import DataBox, mask_phone
from member.levels import repository as levels_repository
from member.levels.schemas import LevelRead
from member.members import repository
from member.members.errors import MemberGone
from member.members.schemas import (
    HoldExport,
    MemberExport,
    MemberRead,
    MemberUpdate,
    WeChatIdentityRead,
)
from member.models import Member
from member.points import repository as points_repository
from member.points.schemas import PointsEntryRead
from member.wechat.client import WeChatClient, WeChatSession


def session_key_context(member_id: uuid.UUID) -> str:
    return f"session_key:{member_id}"


def phone_context(member_id: uuid.UUID) -> str:
    return f"phone:{member_id}"


async def login(session: AsyncSession, box: DataBox, wechat: WeChatSession) -> tuple[Member, bool]:
    """The member behind a WeChat session, created on first login (``member.registered``)."""
    created = await repository.insert_if_absent(session, wechat.openid, wechat.unionid)
    member = await repository.by_openid_for_update(session, wechat.openid)
    assert member is not None
    member.session_key_sealed = box.seal(wechat.session_key, session_key_context(member.id))
    if wechat.unionid and member.unionid != wechat.unionid:
        member.unionid = wechat.unionid
    if created:
        level = await levels_repository.for_growth(session, 0)
        member.level_id = level.id if level else None
        add_event(
            session,
            "member.registered",
            str(member.id),
            {"member_id": str(member.id), "has_unionid": member.unionid is not None},
        )
    await session.flush()
    return member, created


async def require_active(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> Member:
    member = await repository.active(session, member_id, for_update=for_update)
    if member is None:
        raise MemberGone("This account no longer exists; log in again.")
    return member


async def read(session: AsyncSession, member: Member) -> MemberRead:
    level = await levels_repository.get(session, member.level_id) if member.level_id else None
    return MemberRead(
        id=member.id,
        nickname=member.nickname,
        avatar_url=member.avatar_url,
        phone=member.phone_masked,
        growth_value=member.growth_value,
        level=LevelRead.model_validate(level) if level else None,
        points_balance=member.points_balance,
        points_held=member.points_held,
        registered_at=member.created_at,
    )


async def update(session: AsyncSession, member_id: uuid.UUID, body: MemberUpdate) -> Member:
    member = await require_active(session, member_id, for_update=True)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(member, key, value)
    member.updated_at = datetime.now(UTC)
    await session.flush()
    return member


async def bind_phone(
    session: AsyncSession, box: DataBox, client: WeChatClient, member_id: uuid.UUID, code: str
) -> Member:
    member = await require_active(session, member_id, for_update=True)
    info = await client.phone_number(code, member.openid)
    member.phone_sealed = box.seal(info.phone_number, phone_context(member.id))
    member.phone_masked = mask_phone(info.pure_phone_number)
    member.updated_at = datetime.now(UTC)
    add_event(session, "member.phone_bound", str(member.id), {"member_id": str(member.id)})
    await session.flush()
    return member


async def export(session: AsyncSession, member_id: uuid.UUID) -> MemberExport:
    member = await require_active(session, member_id)
    addresses = await addresses_repository.all_for(session, member_id)
    ledger = await points_repository.all_entries(session, member_id)
    holds = await points_repository.all_holds(session, member_id)
    return MemberExport(
        exported_at=datetime.now(UTC),
        profile=await read(session, member),
        wechat=WeChatIdentityRead(openid=member.openid, unionid=member.unionid),
        addresses=[address_read(a) for a in addresses],
        points_ledger=[PointsEntryRead.model_validate(e) for e in ledger],
        points_holds=[
            HoldExport(
                reference=h.reference, points=h.points, status=h.status, created_at=h.created_at
            )
            for h in holds
        ],
        notes={
            "phone_numbers": "shown masked; they are stored encrypted",
            "orders": "kept by the order service",
        },
    )


async def erase(session: AsyncSession, member_id: uuid.UUID) -> None:
    """Delete the account: personal fields erased, addresses removed, tokens revoked. The row
    and its points ledger stay (accounting), linked to nothing personal."""
    member = await require_active(session, member_id, for_update=True)
    now = datetime.now(UTC)
    member.openid = None
    member.unionid = None
    member.session_key_sealed = None
    member.nickname = None
    member.avatar_url = None
    member.phone_sealed = None
    member.phone_masked = None
    member.status = "deleted"
    member.deleted_at = now
    member.updated_at = now
    await addresses_repository.delete_all_for(session, member_id)
    await auth_service.revoke_all(session, auth_service.MEMBER, member_id)
    add_event(session, "member.deleted", str(member.id), {"member_id": str(member.id)})
    await session.flush()
