import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GroupBuyActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    sku_id: uuid.UUID
    group_price_fen: int = Field(gt=0, le=100_000_000)
    group_size: int = Field(ge=2, le=100)
    duration_s: int = Field(ge=60, le=30 * 86_400)
    starts_at: datetime
    ends_at: datetime
    enabled: bool = True

    @model_validator(mode="after")
    def _window(self) -> "GroupBuyActivityIn":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class GroupBuyActivityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    ends_at: datetime | None = None
    enabled: bool | None = None


class GroupBuyActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    sku_id: uuid.UUID
    group_price_fen: int
    group_size: int
    duration_s: int
    starts_at: datetime
    ends_at: datetime
    enabled: bool


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    is_leader: bool
    status: str
    joined_at: datetime | None


class GroupOut(BaseModel):
    """A group's share page: anyone may see it; members are shown without their ids."""

    id: uuid.UUID
    activity_id: uuid.UUID
    sku_id: uuid.UUID
    price_fen: int
    size: int
    status: Literal["pending", "forming", "succeeded", "failed", "cancelled"]
    paid_count: int
    slots_taken: int
    expires_at: datetime
    closed_at: datetime | None


class StaffGroupOut(GroupOut):
    leader_member_id: uuid.UUID
    slots: list[SlotOut]
    order_ids: list[uuid.UUID]


class MembershipOut(BaseModel):
    """The member's slot; ``activity_ref`` is what checkout takes as ``activity.ref``."""

    activity_ref: uuid.UUID
    status: str
    is_leader: bool
    order_id: uuid.UUID | None
    group: GroupOut
