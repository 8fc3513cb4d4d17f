"""The member's own account: ``/api/v1/members/me`` (profile, phone, export, deletion)."""

from fastapi import APIRouter, status
from shared.db import SessionDep

from member.deps import BoxDep, MemberIdDep, WeChatDep
from member.members import service
from member.members.schemas import MemberExport, MemberRead, MemberUpdate, PhoneBind

router = APIRouter(prefix="/api/v1/members/me", tags=["members"])


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
