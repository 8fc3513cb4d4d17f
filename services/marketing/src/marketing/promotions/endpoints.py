"""Promotions: the running ones for product pages (``/api/v1/marketing/promotions``, public)
and staff's (``/admin/v1/marketing/promotions``)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from shared.db import SessionDep
from shared.identity import require_roles
from shared.pagination import Page, PageParamsDep

from marketing.promotions import repository, service
from marketing.promotions.errors import PromotionNotFound
from marketing.promotions.schemas import PromotionCreate, PromotionOut, PromotionUpdate

router = APIRouter(prefix="/api/v1/marketing", tags=["promotions"])
admin = APIRouter(
    prefix="/admin/v1/marketing/promotions",
    tags=["promotions (staff)"],
    dependencies=[require_roles("operator")],
)


@router.get("/promotions")
async def running(session: SessionDep) -> list[PromotionOut]:
    """Promotions in force now (public), oldest first."""
    return [
        PromotionOut.model_validate(p) for p in await repository.running(session, datetime.now(UTC))
    ]


@admin.post("", status_code=status.HTTP_201_CREATED)
async def create(body: PromotionCreate, session: SessionDep) -> PromotionOut:
    return PromotionOut.model_validate(await service.create(session, body))


@admin.get("")
async def list_promotions(
    session: SessionDep,
    params: PageParamsDep,
    kind: Annotated[
        str | None, Query(pattern="^(limited_time|member_price|full_reduction|full_discount)$")
    ] = None,
) -> Page[PromotionOut]:
    rows, total = await repository.page(session, kind, params.offset, params.page_size)
    return Page.of([PromotionOut.model_validate(p) for p in rows], total, params)


@admin.get("/{promotion_id}")
async def get(promotion_id: uuid.UUID, session: SessionDep) -> PromotionOut:
    promotion = await repository.get(session, promotion_id)
    if promotion is None:
        raise PromotionNotFound(f"No promotion {promotion_id}.")
    return PromotionOut.model_validate(promotion)


@admin.patch("/{promotion_id}")
async def update(
    promotion_id: uuid.UUID, body: PromotionUpdate, session: SessionDep
) -> PromotionOut:
    return PromotionOut.model_validate(await service.update(session, promotion_id, body))
