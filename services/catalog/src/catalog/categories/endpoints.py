"""The category tree for shoppers; category CRUD for staff (role operator)."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.identity import require_roles

from catalog.categories import repository, service
from catalog.categories.schemas import CategoryCreate, CategoryRead, CategoryTree, CategoryUpdate

router = APIRouter(prefix="/api/v1/catalog", tags=["categories"])
admin = APIRouter(
    prefix="/admin/v1/catalog",
    tags=["categories (staff)"],
    dependencies=[require_roles("operator")],
)


@router.get("/categories")
async def category_tree(session: SessionDep) -> CategoryTree:
    return CategoryTree(items=service.build_tree(await repository.all_ordered(session)))


@admin.get("/categories")
async def admin_category_tree(session: SessionDep) -> CategoryTree:
    return CategoryTree(items=service.build_tree(await repository.all_ordered(session)))


@admin.post("/categories", status_code=status.HTTP_201_CREATED)
async def create_category(body: CategoryCreate, session: SessionDep) -> CategoryRead:
    return CategoryRead.model_validate(await service.create(session, body))


@admin.patch("/categories/{category_id}")
async def update_category(
    category_id: uuid.UUID, body: CategoryUpdate, session: SessionDep
) -> CategoryRead:
    return CategoryRead.model_validate(await service.update(session, category_id, body))


@admin.delete("/categories/{category_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_category(category_id: uuid.UUID, session: SessionDep) -> None:
    await service.delete(session, category_id)
