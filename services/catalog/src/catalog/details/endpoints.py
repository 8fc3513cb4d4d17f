"""``GET /api/v1/catalog/products/{product_id}``: the detail shoppers see (on sale or off
the shelf; drafts are not found), from the cache. No ORM session: JSON bytes as cached."""

import uuid

from fastapi import APIRouter, Request, Response

from catalog.details.schemas import ProductDetail
from catalog.details.service import ProductPages
from catalog.products.errors import ProductNotFound

router = APIRouter(prefix="/api/v1/catalog", tags=["products"])


@router.get("/products/{product_id}", response_model=ProductDetail)
async def product_detail(product_id: uuid.UUID, request: Request) -> Response:
    pages: ProductPages = request.app.state.product_pages
    body = await pages.page(product_id)
    if body is None:
        raise ProductNotFound("No such product.")
    return Response(body, media_type="application/json")
