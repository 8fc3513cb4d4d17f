import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProductStatus = Literal["draft", "on_sale", "off_shelf"]
Name = Field(min_length=1, max_length=120)


class SpecDef(BaseModel):
    name: str = Field(min_length=1, max_length=20, examples=["颜色"])
    values: list[str] = Field(min_length=1, max_length=100, examples=[["红", "蓝"]])


class SkuFields(BaseModel):
    specs: dict[str, str] = Field(default_factory=dict, examples=[{"颜色": "红", "尺码": "M"}])
    price_fen: int = Field(ge=0, le=10**10)
    market_price_fen: int = Field(default=0, ge=0, le=10**10)
    barcode: str | None = Field(default=None, max_length=64)
    weight_g: int = Field(default=0, ge=0, le=10**7)
    image_url: str | None = Field(default=None, max_length=512)


class SkuCreate(SkuFields):
    sku_code: str | None = Field(default=None, min_length=1, max_length=64)
    stock: int = Field(default=0, ge=0, le=10_000_000, description="initial available stock")


class SkuUpdate(BaseModel):
    specs: dict[str, str] | None = None
    price_fen: int | None = Field(default=None, ge=0, le=10**10)
    market_price_fen: int | None = Field(default=None, ge=0, le=10**10)
    barcode: str | None = Field(default=None, max_length=64)
    weight_g: int | None = Field(default=None, ge=0, le=10**7)
    image_url: str | None = Field(default=None, max_length=512)
    active: bool | None = None


class ProductFields(BaseModel):
    name: str = Name
    subtitle: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=20_000)
    category_id: uuid.UUID
    brand_id: uuid.UUID | None = None
    status: ProductStatus = "draft"
    specs: list[SpecDef] = Field(default_factory=list, max_length=5)
    images: list[str] = Field(default_factory=list, max_length=20)


class ProductCreate(ProductFields):
    supplier_id: str | None = Field(default=None, max_length=64)
    supplier_code: str | None = Field(default=None, max_length=64)
    skus: list[SkuCreate] = Field(min_length=1, max_length=200)


class ProductUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    subtitle: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    category_id: uuid.UUID | None = None
    brand_id: uuid.UUID | None = None
    status: ProductStatus | None = None
    specs: list[SpecDef] | None = Field(default=None, max_length=5)
    images: list[str] | None = Field(default=None, max_length=20)


class SupplierSkuUpsert(SkuFields):
    sku_code: str = Field(min_length=1, max_length=64)
    stock: int | None = Field(
        default=None, ge=0, le=10_000_000, description="initial stock of a new SKU only"
    )


class SupplierProductUpsert(ProductFields):
    skus: list[SupplierSkuUpsert] = Field(min_length=1, max_length=200)


class SkuRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku_code: str | None
    specs: dict[str, str]
    price_fen: int
    market_price_fen: int
    barcode: str | None
    weight_g: int
    image_url: str | None
    active: bool
    available: int
    reserved: int
    sold: int


class ProductSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    subtitle: str
    category_id: uuid.UUID
    brand_id: uuid.UUID | None
    supplier_id: str | None
    supplier_code: str | None
    status: ProductStatus
    price_fen: int
    market_price_fen: int
    sales_count: int
    created_at: datetime
    updated_at: datetime


class ProductRead(ProductSummary):
    description: str
    specs: list[SpecDef]
    images: list[str]
    skus: list[SkuRead]
