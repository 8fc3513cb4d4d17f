import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BargainActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    sku_id: uuid.UUID
    start_price_fen: int = Field(gt=0, le=100_000_000)
    floor_price_fen: int = Field(gt=0, le=100_000_000)
    target_helps: int = Field(ge=1, le=1000)
    duration_s: int = Field(ge=60, le=30 * 86_400)
    starts_at: datetime
    ends_at: datetime
    enabled: bool = True

    @model_validator(mode="after")
    def _terms(self) -> "BargainActivityIn":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.floor_price_fen >= self.start_price_fen:
            raise ValueError("floor_price_fen must be below start_price_fen")
        return self


class BargainActivityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    ends_at: datetime | None = None
    enabled: bool | None = None


class BargainActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    sku_id: uuid.UUID
    start_price_fen: int
    floor_price_fen: int
    target_helps: int
    duration_s: int
    starts_at: datetime
    ends_at: datetime
    enabled: bool


class HelpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cut_fen: int
    created_at: datetime


class BargainOut(BaseModel):
    """A bargain's share page; its ``id`` is checkout's ``activity.ref``."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    activity_id: uuid.UUID
    sku_id: uuid.UUID
    start_price_fen: int
    floor_price_fen: int
    current_price_fen: int
    target_helps: int
    helps_count: int
    status: str
    expires_at: datetime
    helps: list[HelpOut] = []


class StaffBargainOut(BargainOut):
    member_id: uuid.UUID
    order_id: uuid.UUID | None


class HelpResult(BaseModel):
    cut_fen: int
    current_price_fen: int
    reached_floor: bool
