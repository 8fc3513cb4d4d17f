"""Login, refresh, logout for members (``/api/v1/auth``) and staff (``/admin/v1/auth``), and
the JWKS the gateway verifies access tokens with (``/.well-known/jwks.json``, internal).

Refresh with a token that was already used revokes its family. That revocation must
survive the 401, so these endpoints commit it before raising (the request edge owns the
transaction either way).
"""

from typing import Any

from fastapi import APIRouter, status
from shared.db import SessionDep
from sqlalchemy.ext.asyncio import AsyncSession

from member.auth import service
from member.auth.errors import RefreshTokenInvalid, RefreshTokenReused
from member.auth.schemas import (
    MemberLoginRead,
    RefreshRequest,
    StaffLoginRead,
    TokenPairRead,
    WeChatLogin,
)
from member.auth.service import Invalid, Reused, Rotated
from member.deps import BoxDep, RedisDep, SettingsDep, StaffIdDep, TokensDep, WeChatDep
from member.members import repository as members_repository
from member.members import service as members_service
from member.staff import repository as staff_repository
from member.staff import service as staff_service
from member.staff.schemas import StaffLogin, StaffRead

router = APIRouter(tags=["auth"])
jwks_router = APIRouter(tags=["auth"])


@jwks_router.get("/.well-known/jwks.json")
async def jwks(tokens: TokensDep) -> dict[str, Any]:
    return tokens.signer.jwks()


async def _rotate(session: AsyncSession, kind: str, presented: str) -> Rotated:
    outcome = await service.rotate(session, kind, presented)
    if isinstance(outcome, Reused):
        await session.commit()  # keep the family revoked although we answer 401
        raise RefreshTokenReused("This refresh token was already used; its session is revoked.")
    if isinstance(outcome, Invalid):
        raise RefreshTokenInvalid("The refresh token is invalid, expired or revoked.")
    return outcome


# -- members ------------------------------------------------------------------------------


@router.post("/api/v1/auth/wechat/login")
async def wechat_login(
    body: WeChatLogin, session: SessionDep, wechat: WeChatDep, box: BoxDep, tokens: TokensDep
) -> MemberLoginRead:
    wechat_session = await wechat.code2session(body.code)
    member, created = await members_service.login(session, box, wechat_session)
    pair = await tokens.issue_pair(session, kind=service.MEMBER, subject_id=member.id)
    return MemberLoginRead(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        member=await members_service.read(session, member),
        registered=created,
    )


@router.post("/api/v1/auth/refresh")
async def member_refresh(
    body: RefreshRequest, session: SessionDep, tokens: TokensDep
) -> TokenPairRead:
    rotated = await _rotate(session, service.MEMBER, body.refresh_token)
    if await members_repository.active(session, rotated.subject_id) is None:
        raise RefreshTokenInvalid("The account no longer exists.")
    pair = await tokens.issue_pair(
        session, kind=service.MEMBER, subject_id=rotated.subject_id, family_id=rotated.family_id
    )
    return TokenPairRead(**pair.__dict__)


@router.post("/api/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def member_logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.revoke(session, service.MEMBER, body.refresh_token)


# -- staff --------------------------------------------------------------------------------


@router.post("/admin/v1/auth/login")
async def staff_login(
    body: StaffLogin,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
    tokens: TokensDep,
) -> StaffLoginRead:
    staff = await staff_service.authenticate(session, redis, settings, body.username, body.password)
    pair = await tokens.issue_pair(
        session, kind=service.STAFF, subject_id=staff.id, roles=list(staff.roles)
    )
    return StaffLoginRead(**pair.__dict__, staff=StaffRead.model_validate(staff))


@router.post("/admin/v1/auth/refresh")
async def staff_refresh(
    body: RefreshRequest, session: SessionDep, tokens: TokensDep
) -> TokenPairRead:
    rotated = await _rotate(session, service.STAFF, body.refresh_token)
    staff = await staff_repository.get(session, rotated.subject_id)
    if staff is None or not staff.active:
        raise RefreshTokenInvalid("The staff account is not active.")
    pair = await tokens.issue_pair(
        session,
        kind=service.STAFF,
        subject_id=staff.id,
        family_id=rotated.family_id,
        roles=list(staff.roles),
    )
    return TokenPairRead(**pair.__dict__)


@router.post("/admin/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def staff_logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.revoke(session, service.STAFF, body.refresh_token)


@router.get("/admin/v1/auth/me")
async def staff_me(staff_id: StaffIdDep, session: SessionDep) -> StaffRead:
    return StaffRead.model_validate(await staff_service.get(session, staff_id))
