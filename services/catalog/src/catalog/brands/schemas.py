import uuid

from pydantic import BaseModel, ConfigDict, Field


class BrandCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    logo_url: str | None = Field(default=None, max_length=512)


class BrandUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    logo_url: str | None = Field(default=None, max_length=512)


class BrandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    logo_url: str | None
