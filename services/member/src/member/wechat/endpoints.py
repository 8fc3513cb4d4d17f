"""Messages to a member's WeChat client, for other services:
``POST /internal/v1/members/{id}/subscribe-messages`` (a subscription message; the member
must have accepted the template in the mini-program, else 409 ``wechat_not_subscribed``)."""

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from shared.db import SessionDep

from member.deps import WeChatDep
from member.members.errors import MemberNotFound
from member.models import Member

internal = APIRouter(prefix="/internal/v1/members", tags=["wechat messages (internal)"])


class SubscribeMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(min_length=1, max_length=128)
    data: dict[str, str] = Field(min_length=1, max_length=20)
    page: str | None = Field(default=None, max_length=256)


class SubscribeMessageOut(BaseModel):
    msgid: int


@internal.post("/{member_id}/subscribe-messages")
async def send_subscribe_message(
    member_id: uuid.UUID, body: SubscribeMessageIn, session: SessionDep, wechat: WeChatDep
) -> SubscribeMessageOut:
    member = await session.get(Member, member_id)
    if member is None or member.status != "active" or member.openid is None:
        raise MemberNotFound(f"No member {member_id}.")
    msgid = await wechat.send_subscribe_message(
        touser=member.openid, template_id=body.template_id, data=body.data, page=body.page
    )
    return SubscribeMessageOut(msgid=msgid)
