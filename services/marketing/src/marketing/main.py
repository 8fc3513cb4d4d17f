"""The marketing HTTP app: ``uvicorn marketing.main:create_app --factory``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from marketing.abandoned_carts import endpoints as abandoned_carts
from marketing.bargains import endpoints as bargains
from marketing.coupons import endpoints as coupons
from marketing.flash_sales import endpoints as flash_sales
from marketing.flash_sales.hot import FlashSaleHotPath
from marketing.group_buys import endpoints as group_buys
from marketing.group_buys import prices as activity_prices
from marketing.peers import Peers
from marketing.promotions import endpoints as promotions
from marketing.quotes import endpoints as quotes
from marketing.referrals import endpoints as referrals
from marketing.settings import MarketingSettings


def create_app() -> FlashSaleHotPath:
    """FastAPI behind ``FlashSaleHotPath``, which answers flash-sale purchases and ticket
    polls itself (raw ASGI, one Redis Lua call)."""
    settings = MarketingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Catalog (quotes, activities), order (stale carts) and member (messages).
        app.state.peers = Peers.build(settings)
        try:
            yield
        finally:
            await app.state.peers.aclose()

    app = create_service_app(
        settings,
        title="minimall marketing",
        routers=[
            probes_router(settings.service_name, "marketing"),
            # --- coupons and promotions ---
            coupons.router,
            coupons.admin,
            coupons.internal,
            promotions.router,
            promotions.admin,
            quotes.internal,
            # --- group-buy, bargain, referral, abandoned cart ---
            group_buys.router,
            group_buys.admin,
            bargains.router,
            bargains.admin,
            referrals.router,
            referrals.admin,
            abandoned_carts.admin,
            activity_prices.internal,
            # --- flash sales ---
            flash_sales.router,
            flash_sales.admin,
        ],
        extra_lifespan=lifespan,
    )
    return FlashSaleHotPath(app, settings)
