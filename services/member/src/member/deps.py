"""Dependencies on what the lifespan made (``app.state``) and on who is calling."""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from shared.identity import CurrentMemberId, CurrentStaff, Unauthenticated

from member.auth.service import Tokens
from member.crypto import DataBox
from member.settings import MemberSettings
from member.wechat.client import WeChatClient


def _settings(request: Request) -> MemberSettings:
    settings: MemberSettings = request.app.state.settings
    return settings


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def _box(request: Request) -> DataBox:
    box: DataBox = request.app.state.box
    return box


def _wechat(request: Request) -> WeChatClient:
    client: WeChatClient = request.app.state.wechat
    return client


def _redis(request: Request) -> "Redis":
    redis: Redis = request.app.state.redis
    return redis


def _parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise Unauthenticated("The caller's identity is not valid.") from exc


def _staff_id(staff: CurrentStaff) -> uuid.UUID:
    return _parse_id(staff.staff_id)


SettingsDep = Annotated[MemberSettings, Depends(_settings)]
TokensDep = Annotated[Tokens, Depends(_tokens)]
BoxDep = Annotated[DataBox, Depends(_box)]
WeChatDep = Annotated[WeChatClient, Depends(_wechat)]
RedisDep = Annotated["Redis", Depends(_redis)]
MemberIdDep = CurrentMemberId
StaffIdDep = Annotated[uuid.UUID, Depends(_staff_id)]
