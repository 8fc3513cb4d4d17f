"""Brands: a public list, staff create and update (role operator)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import require_roles
from shared.pagination import Page, PageParamsDep

from catalog.brands import repository, service
from catalog.brands.schemas import BrandCreate, BrandRead, BrandUpdate

router = APIRouter(prefix="/api/v1/catalog", tags=["brands"])
admin = APIRouter(
    prefix="/admin/v1/catalog", tags=["brands (staff)"], dependencies=[require_roles("operator")]
)


@router.get("/brands")
async def list_brands(session: SessionDep, params: PageParamsDep) -> Page[BrandRead]:
    rows, total = await repository.page(session, params.offset, params.page_size)
    return Page.of([BrandRead.model_validate(r) for r in rows], total, params)


@admin.post("/brands", status_code=status.HTTP_201_CREATED)
async def create_brand(body: BrandCreate, session: SessionDep) -> BrandRead:
    return BrandRead.model_validate(await service.create(session, body))


@admin.patch("/brands/{brand_id}")
async def update_brand(brand_id: uuid.UUID, body: BrandUpdate, session: SessionDep) -> BrandRead:
    return BrandRead.model_validate(await service.update(session, brand_id, body))
