import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from member.addresses.schemas import AddressRead
from member.levels.schemas import LevelRead
from member.points.schemas import PointsEntryRead


class MemberRead(BaseModel):
    id: uuid.UUID
    nickname: str | None
    avatar_url: str | None
    phone: str | None = Field(description="masked: 138****5678")
    growth_value: int
    level: LevelRead | None
    points_balance: int
    points_held: int
    registered_at: datetime


class MemberUpdate(BaseModel):
    nickname: str | None = Field(default=None, min_length=1, max_length=32)
    avatar_url: str | None = Field(default=None, max_length=512, pattern=r"^https://\S+$")


class PhoneBind(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="from getPhoneNumber")


class WeChatIdentityRead(BaseModel):
    openid: str | None
    unionid: str | None


class HoldExport(BaseModel):
    reference: str
    points: int
    status: str
    created_at: datetime


class MemberExport(BaseModel):
    """Everything member keeps about a person (PIPL access and portability)."""

    exported_at: datetime
    profile: MemberRead
    wechat: WeChatIdentityRead
    addresses: list[AddressRead]
    points_ledger: list[PointsEntryRead]
    points_holds: list[HoldExport]
    notes: dict[str, Any]


class LevelBenefits(BaseModel):
    name: str
    discount_rate_bp: int
    free_shipping: bool


class PricingProfile(BaseModel):
    """Internal (order service): what a member's checkout depends on."""

    member_id: uuid.UUID
    level: LevelBenefits | None
    points_balance: int


class PayerRead(BaseModel):
    """Internal (payment service): who pays with WeChat Pay."""

    member_id: uuid.UUID
    openid: str
