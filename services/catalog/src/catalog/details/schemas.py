"""The detail's shape, for the API documents (the endpoint answers cached JSON bytes)."""

import uuid
from typing import Literal

from pydantic import BaseModel


class SpecRead(BaseModel):
    name: str
    values: list[str]


class BrandRef(BaseModel):
    id: uuid.UUID
    name: str


class SkuDetail(BaseModel):
    id: uuid.UUID
    specs: dict[str, str]
    price_fen: int
    market_price_fen: int
    stock: int
    image_url: str | None
    weight_g: int


class ProductDetail(BaseModel):
    id: uuid.UUID
    name: str
    subtitle: str
    description: str
    status: Literal["on_sale", "off_shelf"]
    category_id: uuid.UUID
    category_path: list[uuid.UUID]
    brand: BrandRef | None
    images: list[str]
    image_url: str | None
    specs: list[SpecRead]
    price_fen: int
    market_price_fen: int
    sales_count: int
    in_stock: bool
    skus: list[SkuDetail]
