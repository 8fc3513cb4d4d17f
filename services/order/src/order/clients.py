"""Typed clients of the services order asks for facts: catalog (prices, stock, reservations),
member (level, points, addresses, point holds) and marketing (promotions, coupons, activity
prices). Contracts: ``docs/contracts.md``."""

import uuid
from datetime import datetime

from pydantic import BaseModel
from shared.http import ServiceClient


class SkuSnapshot(BaseModel):
    sku_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    specs: dict[str, str]
    price_fen: int
    available: int
    status: str
    image_url: str | None = None
    supplier_id: str | None = None


class SkuList(BaseModel):
    items: list[SkuSnapshot]


class Reservation(BaseModel):
    reservation_key: str
    status: str
    expires_at: datetime | None = None


class ReservationStatus(BaseModel):
    status: str


class CatalogClient(ServiceClient):
    async def skus(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, SkuSnapshot]:
        if not ids:
            return {}
        joined = ",".join(str(i) for i in sorted(set(ids)))
        found = await self._call(
            "GET", "/internal/v1/catalog/skus", SkuList, params={"ids": joined}
        )
        return {s.sku_id: s for s in found.items}

    async def reserve(
        self, key: str, items: list[tuple[uuid.UUID, int]], ttl_s: int
    ) -> Reservation:
        body = {
            "reservation_key": key,
            "items": [{"sku_id": str(s), "quantity": q} for s, q in items],
            "ttl_s": ttl_s,
        }
        return await self._call("POST", "/internal/v1/catalog/reservations", Reservation, json=body)

    async def release(self, key: str) -> None:
        await self._call(
            "POST", f"/internal/v1/catalog/reservations/{key}/release", ReservationStatus
        )


class MemberLevel(BaseModel):
    name: str
    discount_rate_bp: int
    free_shipping: bool


class PricingProfile(BaseModel):
    member_id: uuid.UUID
    level: MemberLevel | None
    points_balance: int


class ShippingAddress(BaseModel):
    id: uuid.UUID
    recipient_name: str
    phone_number: str
    province: str
    city: str
    district: str
    detail: str
    postal_code: str | None = None


class PointsHold(BaseModel):
    reference: str
    points: int


class MemberClient(ServiceClient):
    async def pricing_profile(self, member_id: uuid.UUID) -> PricingProfile:
        return await self._call(
            "GET", f"/internal/v1/members/{member_id}/pricing-profile", PricingProfile
        )

    async def address(self, member_id: uuid.UUID, address_id: uuid.UUID) -> ShippingAddress:
        return await self._call(
            "GET", f"/internal/v1/members/{member_id}/addresses/{address_id}", ShippingAddress
        )

    async def hold_points(self, member_id: uuid.UUID, reference: str, points: int) -> PointsHold:
        return await self._call(
            "POST",
            f"/internal/v1/members/{member_id}/points/holds",
            PointsHold,
            json={"reference": reference, "points": points},
        )

    async def release_points(self, member_id: uuid.UUID, reference: str) -> None:
        await self._call(
            "POST",
            f"/internal/v1/members/{member_id}/points/holds/{reference}/release",
            PointsHold,
        )


class MarketingClient(ServiceClient):
    """Marketing's internal API: the pricing engine, coupon locks and activity prices.

    Methods are grouped by feature below; each feature adds its own."""

    # --- pricing, promotions and coupons ---

    # --- group-buy and bargain prices ---

    # --- flash sales ---
