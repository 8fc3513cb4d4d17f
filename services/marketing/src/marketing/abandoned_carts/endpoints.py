"""Abandoned-cart offers for staff: ``/admin/v1/marketing/abandoned-carts``."""

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from shared.db import SessionDep
from shared.identity import require_roles

from marketing.abandoned_carts import service
from marketing.peers import Peers

admin = APIRouter(
    prefix="/admin/v1/marketing/abandoned-carts",
    tags=["abandoned carts (staff)"],
    dependencies=[require_roles("operator")],
)


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    member_id: uuid.UUID
    cart_updated_at: datetime
    coupon_template_id: str | None
    coupon_id: str | None
    status: str
    detail: str | None
    created_at: datetime


class ScanOut(BaseModel):
    offers: int


@admin.get("/offers")
async def list_offers(session: SessionDep, member_id: uuid.UUID | None = None) -> list[OfferOut]:
    """The latest offers (200 at most), newest first."""
    return [OfferOut.model_validate(o) for o in await service.offers_for(session, member_id)]


@admin.post("/scan")
async def scan_now(request: Request) -> ScanOut:
    """Run one scan now (the consumer runs one every ``abandoned_cart_scan_interval_s``)."""
    peers: Peers = request.app.state.peers
    made = await service.scan(request.app.state.sessionmaker, peers, request.app.state.settings)
    return ScanOut(offers=made)
