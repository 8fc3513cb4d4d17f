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

    class Adjustment(BaseModel):
        kind: str
        rule: str
        amount_fen: int

    class QuoteLine(BaseModel):
        sku_id: uuid.UUID
        paid_fen: int  # after promotions and the coupon

    class CouponChoice(BaseModel):
        coupon_id: uuid.UUID
        name: str
        discount_fen: int

    class Quote(BaseModel):
        lines: list["MarketingClient.QuoteLine"]
        discounts: list["MarketingClient.Adjustment"]
        coupon: "MarketingClient.CouponChoice | None"
        suggested_coupon: "MarketingClient.CouponChoice | None"
        usable_coupons: list["MarketingClient.CouponChoice"] = []

    class CouponLock(BaseModel):
        coupon_id: uuid.UUID
        status: str

    class CouponRelease(BaseModel):
        status: str

    async def quote(
        self,
        member_id: uuid.UUID,
        level: MemberLevel | None,
        lines: list[tuple[uuid.UUID, int, int]],
        coupon_id: uuid.UUID | None,
    ) -> "MarketingClient.Quote":
        """Promotions, member-level prices and the coupon over (sku_id, quantity, unit price)
        lines; ``coupon_not_applicable`` (422) when the coupon does not apply."""
        body = {
            "member_id": str(member_id),
            "level": (
                {"name": level.name, "discount_rate_bp": level.discount_rate_bp} if level else None
            ),
            "lines": [{"sku_id": str(s), "quantity": q, "unit_price_fen": p} for s, q, p in lines],
            "coupon_id": str(coupon_id) if coupon_id else None,
        }
        return await self._call("POST", "/internal/v1/marketing/quotes", self.Quote, json=body)

    async def lock_coupon(
        self, coupon_id: uuid.UUID, member_id: uuid.UUID, order_id: uuid.UUID, discount_fen: int
    ) -> None:
        """Lock the coupon for the order (the same order again is fine); 409
        ``coupon_unavailable`` if another order holds it or it was used or expired."""
        await self._call(
            "POST",
            f"/internal/v1/marketing/coupons/{coupon_id}/lock",
            self.CouponLock,
            json={
                "member_id": str(member_id),
                "order_id": str(order_id),
                "discount_fen": discount_fen,
            },
        )

    async def release_coupon(self, order_id: uuid.UUID) -> None:
        """Give back whatever coupon the order locked (nothing locked is fine)."""
        await self._call(
            "POST", f"/internal/v1/marketing/coupon-locks/{order_id}/release", self.CouponRelease
        )

    # --- group-buy and bargain prices ---

    class ActivityPrice(BaseModel):
        kind: str
        ref: uuid.UUID
        sku_id: uuid.UUID
        unit_price_fen: int
        ticket: str  # the order's activity_ref: one order per ticket

    class ActivityRelease(BaseModel):
        released: bool

    async def activity_price(
        self,
        kind: str,
        ref: uuid.UUID,
        member_id: uuid.UUID,
        sku_id: uuid.UUID,
        quantity: int,
        order_id: uuid.UUID | None = None,
    ) -> "MarketingClient.ActivityPrice":
        """The unit price of a group-buy slot or bargain for this checkout (422
        ``activity_not_applicable`` if it does not apply); with ``order_id`` it is also bound
        to that order (409 ``activity_in_use`` if another order holds it)."""
        body: dict[str, object] = {
            "kind": kind,
            "ref": str(ref),
            "member_id": str(member_id),
            "sku_id": str(sku_id),
            "quantity": quantity,
        }
        path = "/internal/v1/marketing/activity-prices/quote"
        if order_id is not None:
            body["order_id"] = str(order_id)
            path = "/internal/v1/marketing/activity-prices/claim"
        return await self._call("POST", path, self.ActivityPrice, json=body)

    async def release_activity(self, order_id: uuid.UUID) -> bool:
        """A creation failed after the claim: free the slot or bargain (nothing bound is fine)."""
        found = await self._call(
            "POST",
            f"/internal/v1/marketing/activity-orders/{order_id}/release",
            self.ActivityRelease,
        )
        return found.released

    # --- flash sales ---
