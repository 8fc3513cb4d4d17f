import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rate = Annotated[int, Field(ge=1, le=9_999, description="price paid per 10,000 (8500 = 85折)")]
Fen = Annotated[int, Field(ge=1, le=100_000_000)]


class LimitedTimeRules(BaseModel):
    """限时折扣: every unit in scope at ``rate_bp``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["limited_time"] = "limited_time"
    rate_bp: Rate


class MemberPriceRules(BaseModel):
    """会员价: per level name, the rate for units in scope (replaces the level's own rate)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["member_price"] = "member_price"
    level_rates: dict[Annotated[str, Field(min_length=1, max_length=32)], Rate] = Field(
        min_length=1, max_length=20
    )


class ReductionTier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold_fen: Fen
    off_fen: Fen


class DiscountTier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold_fen: Fen
    rate_bp: Rate


class FullReductionRules(BaseModel):
    """满减: ``off_fen`` at the highest tier the covered items reach; with ``repeat`` (每满,
    one tier only) ``off_fen`` for every full threshold, at most ``max_off_fen``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["full_reduction"] = "full_reduction"
    tiers: list[ReductionTier] = Field(min_length=1, max_length=10)
    repeat: bool = False
    max_off_fen: Fen | None = None

    @model_validator(mode="after")
    def _tiers(self) -> "FullReductionRules":
        _distinct(t.threshold_fen for t in self.tiers)
        if self.repeat and len(self.tiers) != 1:
            raise ValueError("a repeating (每满) reduction has exactly one tier")
        if any(t.off_fen > t.threshold_fen for t in self.tiers):
            raise ValueError("a tier takes off at most its threshold")
        return self


class FullDiscountRules(BaseModel):
    """满折: ``rate_bp`` at the highest tier the covered items reach."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["full_discount"] = "full_discount"
    tiers: list[DiscountTier] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _tiers(self) -> "FullDiscountRules":
        _distinct(t.threshold_fen for t in self.tiers)
        return self


def _distinct(thresholds: Any) -> None:
    values = list(thresholds)
    if len(set(values)) != len(values):
        raise ValueError("tier thresholds must differ")


Rules = Annotated[
    LimitedTimeRules | MemberPriceRules | FullReductionRules | FullDiscountRules,
    Field(discriminator="kind"),
]


class PromotionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    scope: Literal["all", "categories", "products"] = "all"
    scope_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    rules: Rules
    starts_at: datetime
    ends_at: datetime
    status: Literal["active", "paused"] = "active"

    @model_validator(mode="after")
    def _consistent(self) -> "PromotionCreate":
        if (self.scope == "all") != (not self.scope_ids):
            raise ValueError("scope_ids are required for a scope other than all, and only then")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PromotionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    rules: Rules | None = None
    ends_at: datetime | None = None
    status: Literal["active", "paused"] | None = None


class PromotionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    scope: str
    scope_ids: list[uuid.UUID]
    rules: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    status: str
    created_at: datetime
    updated_at: datetime
