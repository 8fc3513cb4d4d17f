"""Bodies of the sandbox calls (what a person does inside WeChat, and test switches)."""

from typing import Any

from pydantic import BaseModel, Field

APIS = ("jscode2session", "stable_token", "getuserphonenumber", "subscribe_send")


class LoginCodeCreate(BaseModel):
    openid: str | None = Field(default=None, min_length=1, max_length=64)
    unionid: str | None = Field(default=None, min_length=1, max_length=64)


class LoginCodeRead(BaseModel):
    code: str
    openid: str


class PhoneCodeCreate(BaseModel):
    openid: str | None = Field(default=None, min_length=1, max_length=64)
    phone_number: str = Field(default="13800138000", pattern=r"^\d{5,15}$")
    country_code: str = Field(default="86", pattern=r"^\d{1,4}$")


class CodeRead(BaseModel):
    code: str


class SubscriptionCreate(BaseModel):
    openid: str
    template_id: str
    times: int = Field(default=1, ge=1, le=100)


class SubscriptionRead(BaseModel):
    openid: str
    template_id: str
    remaining: int


class FaultCreate(BaseModel):
    api: str = Field(pattern="^(" + "|".join(APIS) + ")$")
    errcode: int
    times: int = Field(default=1, ge=0, description="0: until DELETE /sandbox/faults")
    openid: str | None = None


class ClockAdvance(BaseModel):
    seconds: float = Field(gt=0, le=86400 * 30)


class ClockRead(BaseModel):
    now: float
    offset_s: float


class MessageRead(BaseModel):
    msgid: int
    touser: str
    template_id: str
    page: str | None
    data: dict[str, Any]
    sent_at: float
