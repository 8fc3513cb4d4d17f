import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CouponKind = Literal["fixed", "threshold", "percent"]
ScopeKind = Literal["all", "categories", "products"]
CouponStatus = Literal["available", "locked", "used", "expired", "revoked"]


class TemplateCreate(BaseModel):
    """A coupon template. ``fixed``: ``off_fen`` off (立减); ``threshold``: ``off_fen`` off
    once the covered items reach ``min_spend_fen`` (满减); ``percent``: pay ``rate_bp`` per
    10,000 of the covered items (8500 = 85折), at most ``max_off_fen`` off."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    kind: CouponKind
    off_fen: int = Field(default=0, ge=0, le=100_000_000)
    rate_bp: int = Field(default=10_000, ge=1, le=10_000)
    max_off_fen: int | None = Field(default=None, gt=0, le=100_000_000)
    min_spend_fen: int = Field(default=0, ge=0, le=100_000_000)
    scope: ScopeKind = "all"
    scope_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    validity: Literal["fixed", "relative"] = "relative"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = Field(default=None, ge=1, le=3650)
    claim_starts_at: datetime | None = None
    claim_ends_at: datetime | None = None
    total_quantity: int | None = Field(default=None, ge=1, le=100_000_000)
    per_member_limit: int = Field(default=1, ge=1, le=100)
    claimable: bool = True
    status: Literal["active", "paused"] = "active"

    @model_validator(mode="after")
    def _consistent(self) -> "TemplateCreate":
        if self.kind in ("fixed", "threshold") and self.off_fen <= 0:
            raise ValueError("a fixed or threshold coupon needs off_fen > 0")
        if self.kind == "threshold" and self.min_spend_fen <= 0:
            raise ValueError("a threshold coupon needs min_spend_fen > 0")
        if self.kind == "percent" and self.rate_bp >= 10_000:
            raise ValueError("a percent coupon needs rate_bp below 10000")
        if self.kind != "percent" and self.max_off_fen is not None:
            raise ValueError("max_off_fen is for percent coupons")
        if (self.scope == "all") != (not self.scope_ids):
            raise ValueError("scope_ids are required for a scope other than all, and only then")
        if self.validity == "fixed":
            if self.valid_until is None or self.valid_days is not None:
                raise ValueError("fixed validity needs valid_until (and no valid_days)")
            if self.valid_from is not None and self.valid_from >= self.valid_until:
                raise ValueError("valid_from must be before valid_until")
        elif self.valid_days is None or self.valid_from or self.valid_until:
            raise ValueError("relative validity needs valid_days (and no valid_from/until)")
        if (
            self.claim_starts_at is not None
            and self.claim_ends_at is not None
            and self.claim_starts_at >= self.claim_ends_at
        ):
            raise ValueError("claim_starts_at must be before claim_ends_at")
        return self


class TemplateUpdate(BaseModel):
    """What may change once coupons exist: never what an issued coupon is worth."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    status: Literal["active", "paused", "ended"] | None = None
    total_quantity: int | None = Field(default=None, ge=1, le=100_000_000)
    per_member_limit: int | None = Field(default=None, ge=1, le=100)
    claimable: bool | None = None
    claim_ends_at: datetime | None = None


class TemplateTerms(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    kind: str
    off_fen: int
    rate_bp: int
    max_off_fen: int | None
    min_spend_fen: int
    scope: str
    scope_ids: list[uuid.UUID]
    validity: str
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    claim_starts_at: datetime | None
    claim_ends_at: datetime | None
    per_member_limit: int
    total_quantity: int | None


class ClaimableTemplateOut(TemplateTerms):
    remaining: int | None = Field(description="coupons left to claim; null: unlimited")
    claimed: int | None = Field(
        default=None, description="how many the calling member claimed; null without a member"
    )


class TemplateOut(TemplateTerms):
    issued_count: int
    used_count: int
    claimable: bool
    status: str
    created_at: datetime
    updated_at: datetime


class CouponOut(BaseModel):
    id: uuid.UUID
    template_id: uuid.UUID
    name: str
    kind: str
    off_fen: int
    rate_bp: int
    max_off_fen: int | None
    min_spend_fen: int
    scope: str
    scope_ids: list[uuid.UUID]
    status: str
    valid_from: datetime
    valid_until: datetime
    order_id: uuid.UUID | None
    used_at: datetime | None
    claimed_at: datetime


class StaffCouponOut(CouponOut):
    member_id: uuid.UUID
    source: str
    discount_fen: int | None
    locked_at: datetime | None
    returned_count: int


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class GrantOut(BaseModel):
    coupons: list[StaffCouponOut]


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID
    order_id: uuid.UUID
    discount_fen: int = Field(ge=0)


class LockOut(BaseModel):
    coupon_id: uuid.UUID
    order_id: uuid.UUID
    status: str


class ReleaseOut(BaseModel):
    order_id: uuid.UUID
    coupon_id: uuid.UUID | None
    status: str  # the coupon's status now, or "none" when no coupon was locked
