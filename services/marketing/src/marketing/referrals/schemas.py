import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referrer_code: str = Field(min_length=1, max_length=64)


class BindingOut(BaseModel):
    member_id: uuid.UUID
    referrer_id: uuid.UUID
    bound_at: datetime
    newly_bound: bool


class MyReferralOut(BaseModel):
    """The member's share code (put it in share links) and their commission totals."""

    referrer_code: str
    referred_by: uuid.UUID | None
    referred_members: int
    pending_fen: int
    settled_fen: int


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_bp: int = Field(ge=0, le=5000)


class RateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scope: Literal["product", "category"]
    target_id: uuid.UUID
    rate_bp: int
    updated_at: datetime


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    referrer_id: uuid.UUID
    member_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    refund_id: uuid.UUID | None
    base_fen: int
    amount_fen: int
    status: str
    settlement_id: uuid.UUID | None
    created_at: datetime


class ReferrerSummary(BaseModel):
    referrer_id: uuid.UUID
    pending_fen: int
    settled_fen: int
    entries: int


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referrer_id: uuid.UUID
    note: str | None = Field(default=None, max_length=200)


class SettlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    referrer_id: uuid.UUID
    amount_fen: int
    entries: int
    settled_by: str
    note: str | None
    created_at: datetime
