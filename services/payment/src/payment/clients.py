"""Typed clients of the services payment asks for facts: order (amount, deadline, owner;
``GET /internal/v1/orders/{id}``) and member (the shopper's openid). Contracts:
``docs/contracts.md``."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from shared.http import ServiceClient


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
    openid: str


class MemberClient(ServiceClient):
    async def openid(self, member_id: uuid.UUID) -> str:
        """The member's openid for this mini-program (the JSAPI payer)."""
        path = f"/internal/v1/members/{member_id}/wechat-identity"
        return (await self._call("GET", path, WeChatIdentity)).openid
