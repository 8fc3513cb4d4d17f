"""``GET /api/v1/catalog/products``: search and list what is on sale."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from shared.pagination import Page, PageParamsDep

from catalog.search.schemas import ProductFilters, ProductListItem, SortOrder
from catalog.search.service import ProductSearch

router = APIRouter(prefix="/api/v1/catalog", tags=["products"])


@router.get("/products", response_model=Page[ProductListItem])
async def search_products(
    request: Request,
    params: PageParamsDep,
    q: Annotated[str, Query(max_length=64, description="Chinese, pinyin, initials")] = "",
    category_id: Annotated[uuid.UUID | None, Query(description="and its descendants")] = None,
    brand_id: uuid.UUID | None = None,
    min_price_fen: Annotated[int | None, Query(ge=0)] = None,
    max_price_fen: Annotated[int | None, Query(ge=0)] = None,
    in_stock: bool = False,
    sort: SortOrder = SortOrder.relevance,
) -> Response:
    search: ProductSearch = request.app.state.product_search
    filters = ProductFilters(
        q=q,
        category_id=category_id,
        brand_id=brand_id,
        min_price_fen=min_price_fen,
        max_price_fen=max_price_fen,
        in_stock=in_stock,
        sort=sort,
    )
    return Response(await search.page_json(filters, params), media_type="application/json")
