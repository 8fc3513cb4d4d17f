"""Typed clients of the services marketing's HTTP app asks: catalog (SKUs and category
paths for quotes and activities), order (stale carts) and member (subscription messages).
Built once in the app's lifespan as ``app.state.peers``. Contracts: ``docs/contracts.md``."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel
from shared.http import ServiceClient, create_http_client

from marketing.settings import MarketingSettings


class Sku(BaseModel):
    sku_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    price_fen: int
    status: str
    category_path: list[uuid.UUID] = []


class _Skus(BaseModel):
    items: list[Sku]


class CatalogPeer(ServiceClient):
    async def skus(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Sku]:
        if not ids:
            return {}
        joined = ",".join(str(i) for i in sorted(set(ids)))
        found = await self._call("GET", "/internal/v1/catalog/skus", _Skus, params={"ids": joined})
        return {s.sku_id: s for s in found.items}


class StaleCart(BaseModel):
    member_id: uuid.UUID
    lines: int
    goods_fen: int
    updated_at: datetime


class _StaleCarts(BaseModel):
    items: list[StaleCart]


class OrderPeer(ServiceClient):
    async def stale_carts(
        self, idle_s: int, *, updated_after: datetime | None, limit: int
    ) -> list[StaleCart]:
        params: dict[str, Any] = {"idle_s": idle_s, "limit": limit}
        if updated_after is not None:
            params["updated_after"] = updated_after.isoformat()
        found = await self._call("GET", "/internal/v1/carts/stale", _StaleCarts, params=params)
        return found.items


class SentMessage(BaseModel):
    msgid: int


class MemberPeer(ServiceClient):
    async def send_subscribe_message(
        self, member_id: uuid.UUID, template_id: str, data: dict[str, str], page: str | None
    ) -> SentMessage:
        return await self._call(
            "POST",
            f"/internal/v1/members/{member_id}/subscribe-messages",
            SentMessage,
            json={"template_id": template_id, "data": data, "page": page},
        )


@dataclass
class Peers:
    catalog: CatalogPeer
    order: OrderPeer
    member: MemberPeer
    _clients: tuple[httpx.AsyncClient, ...]

    @classmethod
    def build(cls, settings: MarketingSettings) -> "Peers":
        catalog = create_http_client(settings.catalog_url)
        order = create_http_client(settings.order_url)
        member = create_http_client(settings.member_url, timeout=10.0)
        return cls(
            CatalogPeer(catalog, "catalog"),
            OrderPeer(order, "order"),
            MemberPeer(member, "member"),
            (catalog, order, member),
        )

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


_shared: Peers | None = None


def shared_peers() -> Peers:
    """One ``Peers`` per process for event handlers (which get only a session)."""
    global _shared
    if _shared is None:
        _shared = Peers.build(MarketingSettings())
    return _shared
