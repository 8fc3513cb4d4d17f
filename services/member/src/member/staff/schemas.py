import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "operator", "customer_service", "finance"]
Password = str


class StaffLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")
    password: Password = Field(min_length=10, max_length=256)
    display_name: str = Field(default="", max_length=64)
    roles: list[Role] = Field(min_length=1)


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=64)
    roles: list[Role] | None = Field(default=None, min_length=1)
    active: bool | None = None


class PasswordSet(BaseModel):
    password: Password = Field(min_length=10, max_length=256)


class StaffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    active: bool
    created_at: datetime
    last_login_at: datetime | None
