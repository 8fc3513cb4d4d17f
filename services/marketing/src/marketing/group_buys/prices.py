"""The activity price order asks for at checkout (``/internal/v1/marketing/activity-prices``):
group-buy slots and bargains. Contract: ``docs/contracts.md``."""

import uuid
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from shared.db import SessionDep

from marketing.bargains import service as bargains
from marketing.group_buys import service as group_buys

internal = APIRouter(prefix="/internal/v1/marketing", tags=["activity prices (internal)"])


class ActivityPriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["group_buy", "bargain"]
    ref: uuid.UUID
    member_id: uuid.UUID
    sku_id: uuid.UUID
    quantity: int = Field(ge=1)


class ActivityClaimIn(ActivityPriceIn):
    order_id: uuid.UUID


class ActivityPriceOut(BaseModel):
    kind: str
    ref: uuid.UUID
    sku_id: uuid.UUID
    unit_price_fen: int
    # What the order stores as its activity reference: one order per ticket.
    ticket: str


class ReleaseOut(BaseModel):
    released: bool


async def _price(
    session: SessionDep, body: ActivityPriceIn, order_id: uuid.UUID | None
) -> ActivityPriceOut:
    rules = group_buys if body.kind == "group_buy" else bargains
    unit, ticket = await rules.price(
        session, body.ref, body.member_id, body.sku_id, body.quantity, order_id
    )
    return ActivityPriceOut(
        kind=body.kind, ref=body.ref, sku_id=body.sku_id, unit_price_fen=unit, ticket=ticket
    )


@internal.post("/activity-prices/quote")
async def quote(body: ActivityPriceIn, session: SessionDep) -> ActivityPriceOut:
    """Validate a checkout's activity and answer its unit price (preview; nothing held)."""
    return await _price(session, body, None)


@internal.post("/activity-prices/claim")
async def claim(body: ActivityClaimIn, session: SessionDep) -> ActivityPriceOut:
    """As ``quote``, and bind the slot or bargain to ``order_id`` (the same order again is a
    no-op; another order is 409 ``activity_in_use``)."""
    return await _price(session, body, body.order_id)


@internal.post("/activity-orders/{order_id}/release")
async def release(order_id: uuid.UUID, session: SessionDep) -> ReleaseOut:
    """Order creation failed after the claim: free the slot or bargain for another try."""
    released = await group_buys.release(session, order_id) or await bargains.release(
        session, order_id
    )
    return ReleaseOut(released=released)
