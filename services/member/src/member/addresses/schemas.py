import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text32 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
MobilePhone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1[3-9]\d{9}$")]
Detail = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class AddressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_name: Text32
    phone: MobilePhone = Field(description="mainland mobile number, 11 digits")
    province: Text32
    city: Text32
    district: Text32
    detail: Detail
    postal_code: PostalCode | None = None
    is_default: bool = False


class AddressUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_name: Text32 | None = None
    phone: MobilePhone | None = None
    province: Text32 | None = None
    city: Text32 | None = None
    district: Text32 | None = None
    detail: Detail | None = None
    postal_code: PostalCode | None = None
    is_default: bool | None = None


class AddressRead(BaseModel):
    id: uuid.UUID
    recipient_name: str
    phone: str = Field(description="masked: 138****5678")
    province: str
    city: str
    district: str
    detail: str
    postal_code: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class AddressForShipping(AddressRead):
    """Internal (order service): the full phone number, for the courier."""

    phone_number: str
