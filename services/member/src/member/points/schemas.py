import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from shared.pagination import Page


class PointsEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    delta: int
    kind: str
    reason: str
    reference: str
    balance_after: int
    created_at: datetime


class PointsRead(BaseModel):
    balance: int
    held: int
    ledger: Page[PointsEntryRead]


class SignInRead(BaseModel):
    day: str
    points: int
    balance: int


class HoldCreate(BaseModel):
    reference: str = Field(min_length=1, max_length=128, description="usually the order id")
    points: int = Field(gt=0, le=100_000_000)


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    reference: str
    points: int
    status: str
    created_at: datetime
    settled_at: datetime | None


class AdjustmentCreate(BaseModel):
    delta: int = Field(ge=-100_000_000, le=100_000_000, description="not 0")

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("delta must not be 0")
        return value

    reason: str = Field(min_length=1, max_length=200)
    reference: str = Field(min_length=1, max_length=128, description="idempotency reference")
