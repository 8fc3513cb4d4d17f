from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    supplier_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=100)
    per_minute: int = Field(default=600, ge=1, le=100_000)
    daily_quota: int = Field(default=100_000, ge=1, le=100_000_000)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    supplier_id: str
    name: str
    per_minute: int
    daily_quota: int
    status: Literal["active", "revoked"]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    secret: str = Field(description="Shown once. Sign with SHA-256(secret); see /open/docs.")


class ApiKeyForGateway(BaseModel):
    """What the gateway needs to check a signature (internal API only)."""

    key_id: str
    supplier_id: str
    status: Literal["active", "revoked"]
    per_minute: int
    daily_quota: int
    signing_key: str  # hex of SHA-256(secret)
