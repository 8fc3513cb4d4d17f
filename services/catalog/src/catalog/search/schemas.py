import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class SortOrder(StrEnum):
    relevance = "relevance"
    sales = "sales"
    price_asc = "price_asc"
    price_desc = "price_desc"
    newest = "newest"


class ProductListItem(BaseModel):
    id: uuid.UUID
    name: str
    subtitle: str
    image_url: str | None
    price_fen: int
    market_price_fen: int
    sales_count: int
    category_id: uuid.UUID
    brand_id: uuid.UUID | None
    in_stock: bool


class ProductFilters(BaseModel):
    """A parsed list request (everything but the page); hashable, a cache key."""

    model_config = ConfigDict(frozen=True)

    q: str = ""
    category_id: uuid.UUID | None = None
    brand_id: uuid.UUID | None = None
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    in_stock: bool = False
    sort: SortOrder = SortOrder.relevance
