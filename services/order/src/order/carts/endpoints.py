"""The member's cart: ``/api/v1/cart``."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep

from order.carts import service
from order.carts.schemas import CartLineIn, CartOut, CartSelectIn
from order.deps import MemberIdDep, ServicesDep

router = APIRouter(prefix="/api/v1/cart", tags=["cart"])


@router.get("")
async def get_cart(member_id: MemberIdDep, session: SessionDep, services: ServicesDep) -> CartOut:
    return await service.read(services, session, member_id)


@router.put("/items/{sku_id}")
async def put_item(
    sku_id: uuid.UUID,
    body: CartLineIn,
    member_id: MemberIdDep,
    session: SessionDep,
    services: ServicesDep,
) -> CartOut:
    """Add an item or set its quantity (the price comes from catalog)."""
    await service.put(services, session, member_id, sku_id, body)
    await session.flush()
    return await service.read(services, session, member_id)


@router.delete("/items/{sku_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(sku_id: uuid.UUID, member_id: MemberIdDep, session: SessionDep) -> None:
    await service.remove(session, member_id, sku_id)


@router.post("/select")
async def select_items(
    body: CartSelectIn, member_id: MemberIdDep, session: SessionDep, services: ServicesDep
) -> CartOut:
    await service.select_lines(session, member_id, body.sku_ids, body.selected)
    await session.flush()
    return await service.read(services, session, member_id)
