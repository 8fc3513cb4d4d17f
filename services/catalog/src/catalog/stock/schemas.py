import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReservationItem(BaseModel):
    sku_id: uuid.UUID
    quantity: int = Field(ge=1, le=100_000)


class ReservationCreate(BaseModel):
    reservation_key: str = Field(min_length=1, max_length=128, description="e.g. the order id")
    items: list[ReservationItem] = Field(min_length=1, max_length=100)
    ttl_s: int | None = Field(default=None, ge=1, description="default CATALOG_RESERVATION_*")


class ReservationRead(BaseModel):
    reservation_key: str
    status: Literal["reserved", "committed", "released"]
    expires_at: datetime
    items: list[ReservationItem]


class ReservationStatus(BaseModel):
    status: Literal["committed", "released"]


class AdjustmentCreate(BaseModel):
    delta: int = Field(ge=-10_000_000, le=10_000_000, description="not 0")
    reason: str = Field(min_length=1, max_length=200)


class StockSet(BaseModel):
    """A supplier's stock level from its ERP: ``available`` becomes this (an adjustment)."""

    available: int = Field(ge=0, le=10_000_000)
    reason: str = Field(default="supplier_sync", min_length=1, max_length=200)


class StockRead(BaseModel):
    sku_id: uuid.UUID
    available: int
    reserved: int
    sold: int


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku_id: uuid.UUID
    kind: str
    delta_available: int
    delta_reserved: int
    delta_sold: int
    reason: str
    reference: str | None
    actor: str
    created_at: datetime


class SkuSnapshot(BaseModel):
    sku_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    specs: dict[str, str]
    price_fen: int
    market_price_fen: int
    available: int
    status: Literal["draft", "on_sale", "off_shelf"]
    weight_g: int
    image_url: str | None
    category_id: uuid.UUID
    category_path: list[uuid.UUID]
    supplier_id: str | None


class SkuSnapshots(BaseModel):
    items: list[SkuSnapshot]
