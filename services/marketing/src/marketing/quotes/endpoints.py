"""``POST /internal/v1/marketing/quotes``: order's checkout preview and creation price here."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from shared.db import SessionDep

from marketing.peers import CatalogPeer
from marketing.quotes import service
from marketing.quotes.schemas import QuoteIn, QuoteOut

internal = APIRouter(prefix="/internal/v1/marketing", tags=["quotes (internal)"])


def _catalog(request: Request) -> CatalogPeer:
    catalog: CatalogPeer = request.app.state.peers.catalog
    return catalog


@internal.post("/quotes")
async def quote(
    body: QuoteIn, session: SessionDep, catalog: Annotated[CatalogPeer, Depends(_catalog)]
) -> QuoteOut:
    """Promotions and the chosen coupon over the lines; the best coupon suggested."""
    return await service.quote(session, catalog, body)
