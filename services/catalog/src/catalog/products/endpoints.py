"""Products for staff (``/admin/v1/catalog``, role operator) and suppliers
(``/open/v1/catalog``, signed; the supplier's own codes only)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from shared.db import SessionDep
from shared.identity import CurrentStaff, CurrentSupplier, require_roles
from shared.pagination import Page, PageParamsDep

from catalog.products import repository, service
from catalog.products.errors import ProductNotFound
from catalog.products.schemas import (
    ProductCreate,
    ProductRead,
    ProductStatus,
    ProductSummary,
    ProductUpdate,
    SkuCreate,
    SkuRead,
    SkuUpdate,
    SupplierProductUpsert,
)

admin = APIRouter(
    prefix="/admin/v1/catalog",
    tags=["products (staff)"],
    dependencies=[require_roles("operator")],
)
open_api = APIRouter(prefix="/open/v1/catalog", tags=["products (suppliers)"])


@admin.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(
    body: ProductCreate, session: SessionDep, staff: CurrentStaff
) -> ProductRead:
    product = await service.create(session, body, actor=f"staff:{staff.staff_id}")
    return await service.read(session, product)


@admin.get("/products")
async def list_products(
    session: SessionDep,
    params: PageParamsDep,
    status_: Annotated[ProductStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    category_id: uuid.UUID | None = None,
    supplier_id: str | None = None,
) -> Page[ProductSummary]:
    rows, total = await repository.page(
        session,
        status=status_,
        q=q,
        category_id=category_id,
        supplier_id=supplier_id,
        offset=params.offset,
        limit=params.page_size,
    )
    return Page.of([ProductSummary.model_validate(r) for r in rows], total, params)


@admin.get("/products/{product_id}")
async def get_product(product_id: uuid.UUID, session: SessionDep) -> ProductRead:
    product = await repository.get(session, product_id)
    if product is None:
        raise ProductNotFound("No such product.")
    return await service.read(session, product)


@admin.patch("/products/{product_id}")
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, session: SessionDep
) -> ProductRead:
    return await service.read(session, await service.update(session, product_id, body))


@admin.post("/products/{product_id}/skus", status_code=status.HTTP_201_CREATED)
async def add_sku(
    product_id: uuid.UUID, body: SkuCreate, session: SessionDep, staff: CurrentStaff
) -> SkuRead:
    sku = await service.add_sku(session, product_id, body, actor=f"staff:{staff.staff_id}")
    return SkuRead.model_validate(sku)


@admin.patch("/skus/{sku_id}")
async def update_sku(sku_id: uuid.UUID, body: SkuUpdate, session: SessionDep) -> SkuRead:
    return SkuRead.model_validate(await service.update_sku(session, sku_id, body))


@open_api.put("/products/{product_code}")
async def upsert_product(
    product_code: str,
    body: SupplierProductUpsert,
    session: SessionDep,
    supplier: CurrentSupplier,
    response: Response,
) -> ProductRead:
    """Create or replace the supplier's product ``product_code`` (201 when created)."""
    product, created = await service.upsert_from_supplier(
        session, supplier.supplier_id, product_code, body
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return await service.read(session, product)


@open_api.get("/products/{product_code}")
async def get_supplier_product(
    product_code: str, session: SessionDep, supplier: CurrentSupplier
) -> ProductRead:
    product = await repository.lock_by_supplier_code(session, supplier.supplier_id, product_code)
    if product is None:
        raise ProductNotFound("You have no product with this code.")
    return await service.read(session, product)
