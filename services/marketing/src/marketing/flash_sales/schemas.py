import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SaleStatus = Literal["upcoming", "running", "ended", "cancelled"]
TicketStatus = Literal["queued", "ordered", "sold_out", "rejected"]


class FlashSaleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    sku_id: uuid.UUID
    price_fen: int = Field(gt=0, le=100_000_000)
    total_units: int = Field(gt=0, le=100_000)
    per_member_limit: int = Field(default=1, ge=1, le=100)
    starts_at: datetime
    ends_at: datetime
    payment_window_s: int = Field(default=900, ge=10, le=86_400)

    @model_validator(mode="after")
    def _window(self) -> "FlashSaleCreate":
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class FlashSaleRead(BaseModel):
    """What shoppers see."""

    id: uuid.UUID
    name: str
    sku_id: uuid.UUID
    price_fen: int
    total_units: int
    remaining_units: int
    per_member_limit: int
    starts_at: datetime
    ends_at: datetime
    status: SaleStatus


class TicketCounts(BaseModel):
    queued: int = 0
    ordered: int = 0
    rejected: int = 0
    paid: int = 0
    returned: int = 0
    units_held: int = 0


class FlashSaleAdminRead(FlashSaleRead):
    payment_window_s: int
    loaded_at: datetime | None
    load_error: str | None
    settled_at: datetime | None
    created_by: str
    created_at: datetime
    tickets: TicketCounts


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku_id: uuid.UUID
    quantity: int = Field(default=1, ge=1, le=1000)
    token: str | None = Field(
        default=None, max_length=64, description="or the X-Purchase-Token header"
    )
    address_id: uuid.UUID | None = Field(
        default=None, description="the member's shipping address for the order"
    )


class TicketOut(BaseModel):
    ticket: str
    status: TicketStatus
    quantity: int | None = None
    order_id: str | None = None
    reason: str | None = None


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class SaleCheck(BaseModel):
    """One sale's reconciliation: what was found and what was repaired."""

    sale_id: uuid.UUID
    loaded: bool
    rebuilt: bool = False
    total_units: int
    redis_free: int | None = None
    redis_held: int | None = None
    pg_held: int = 0
    slots_pushed: int = 0
    slots_removed: int = 0
    doubly_held: int = 0
    members_fixed: int = 0
    tickets_restored_to_redis: int = 0
    tickets_recorded_from_redis: int = 0
    tickets_requeued: int = 0
    tickets_marked_ordered: int = 0
    tickets_returned: int = 0
    tickets_marked_paid: int = 0
    orders_missing: int = 0
    slots_committed: int = 0
    problems: list[str] = []


class ReconcileReport(BaseModel):
    sales: list[SaleCheck]
