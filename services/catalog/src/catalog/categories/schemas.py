import uuid

from pydantic import BaseModel, ConfigDict, Field


class CategoryCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    parent_id: uuid.UUID | None = None
    icon_url: str | None = Field(default=None, max_length=512)
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class CategoryUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    parent_id: uuid.UUID | None = Field(default=None, description="null makes it a root")
    icon_url: str | None = Field(default=None, max_length=512)
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    path: list[uuid.UUID]
    icon_url: str | None
    sort_order: int


class CategoryNode(BaseModel):
    id: uuid.UUID
    name: str
    icon_url: str | None
    sort_order: int
    children: list["CategoryNode"]


class CategoryTree(BaseModel):
    items: list[CategoryNode]
