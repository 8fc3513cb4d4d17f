import uuid

from pydantic import BaseModel, Field


class CartLineIn(BaseModel):
    quantity: int = Field(ge=1, le=99)
    selected: bool = True


class CartSelectIn(BaseModel):
    sku_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    selected: bool


class CartLineOut(BaseModel):
    sku_id: uuid.UUID
    product_id: uuid.UUID | None
    product_name: str | None
    specs: dict[str, str]
    image_url: str | None
    quantity: int
    selected: bool
    price_fen: int | None = Field(description="today's price from catalog")
    price_fen_when_added: int
    price_changed: bool
    available: int
    stale: str | None = Field(
        description="why the line cannot be ordered as it is: gone, off_shelf, insufficient_stock"
    )


class CartOut(BaseModel):
    items: list[CartLineOut]
    selected_goods_fen: int
    orderable: bool
