"""Typed clients of the services payment asks for facts: order (amount, deadline, owner;
``GET /internal/v1/orders/{id}``) and member (the shopper's openid). Contracts:
``docs/contracts.md``."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from shared.http import ServiceClient
from shared.identity import MEMBER_ID_HEADER


class OrderForPayment(BaseModel):
    order_id: uuid.UUID
    member_id: uuid.UUID
    status: str
    total_fen: int
    pay_deadline_at: datetime
    description: str
    items: list[dict[str, Any]]


class OrderClient(ServiceClient):
    async def order(self, order_id: uuid.UUID) -> OrderForPayment:
        return await self._call("GET", f"/internal/v1/orders/{order_id}", OrderForPayment)


class WeChatIdentity(BaseModel):
    openid: str | None = None


class _MemberExport(BaseModel):
    wechat: WeChatIdentity


class MemberClient(ServiceClient):
    async def openid(self, member_id: uuid.UUID) -> str | None:
        """The member's openid for this mini-program.

        Member has no internal view of it yet, so this reads the member's own export
        (``GET /api/v1/members/me/export``) inside the cluster, with the identity header the
        gateway would set. Replace with an internal endpoint when member offers one.
        """
        headers = {MEMBER_ID_HEADER: str(member_id)}
        found = await self._call("GET", "/api/v1/members/me/export", _MemberExport, headers=headers)
        return found.wechat.openid
