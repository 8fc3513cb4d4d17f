"""What flash sales ask other services (contracts: ``docs/contracts.md``): catalog holds
the sale's units as one-unit reservations; order lists the orders made from tickets."""

import uuid
from dataclasses import dataclass

import httpx
from pydantic import BaseModel
from shared.http import ServiceClient, create_http_client

from marketing.settings import MarketingSettings


class SaleSku(BaseModel):
    sku_id: uuid.UUID
    product_name: str
    price_fen: int
    status: str
    available: int


class _Skus(BaseModel):
    items: list[SaleSku]


class _Reservation(BaseModel):
    reservation_key: str
    status: str


class _Status(BaseModel):
    status: str


def slot_key(sale_id: uuid.UUID, slot: int) -> str:
    """The catalog reservation key of one unit of a sale."""
    return f"fs:{sale_id}:{slot}"


class FlashCatalog(ServiceClient):
    async def sku(self, sku_id: uuid.UUID) -> SaleSku | None:
        found = await self._call(
            "GET", "/internal/v1/catalog/skus", _Skus, params={"ids": str(sku_id)}
        )
        return found.items[0] if found.items else None

    async def hold(self, key: str, sku_id: uuid.UUID, ttl_s: int) -> None:
        body = {
            "reservation_key": key,
            "items": [{"sku_id": str(sku_id), "quantity": 1}],
            "ttl_s": ttl_s,
        }
        await self._call("POST", "/internal/v1/catalog/reservations", _Reservation, json=body)

    async def commit(self, key: str) -> None:
        await self._call("POST", f"/internal/v1/catalog/reservations/{key}/commit", _Status)

    async def release(self, key: str) -> None:
        await self._call("POST", f"/internal/v1/catalog/reservations/{key}/release", _Status)


class SaleOrder(BaseModel):
    ticket: str
    order_id: uuid.UUID
    status: str


class _SaleOrders(BaseModel):
    items: list[SaleOrder]


class FlashOrders(ServiceClient):
    async def of_sale(self, sale_id: uuid.UUID) -> list[SaleOrder]:
        found = await self._call("GET", f"/internal/v1/orders/flash-sale/{sale_id}", _SaleOrders)
        return found.items


@dataclass
class FlashPeers:
    catalog: FlashCatalog
    orders: FlashOrders
    _clients: tuple[httpx.AsyncClient, ...]

    @classmethod
    def build(cls, settings: MarketingSettings) -> "FlashPeers":
        catalog = create_http_client(settings.catalog_url)
        order = create_http_client(settings.order_url)
        return cls(FlashCatalog(catalog, "catalog"), FlashOrders(order, "order"), (catalog, order))

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
