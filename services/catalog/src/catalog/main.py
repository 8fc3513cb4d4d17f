"""The catalog HTTP app: ``uvicorn catalog.main:create_app --factory``."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from catalog.brands import endpoints as brands
from catalog.categories import endpoints as categories
from catalog.details import endpoints as details
from catalog.details.invalidation import listen
from catalog.details.service import ProductPages
from catalog.hot import HotReads
from catalog.products import endpoints as products
from catalog.search import endpoints as search
from catalog.search.service import ProductSearch
from catalog.settings import CatalogSettings
from catalog.stock import endpoints as stock


def create_app() -> HotReads:
    """FastAPI behind ``HotReads``, which answers product detail and search hits itself."""
    settings = CatalogSettings()
    hot: HotReads | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pages = ProductPages(app.state.engine, app.state.redis, settings)
        finder = ProductSearch(settings)
        await finder.open()
        app.state.product_pages = pages
        app.state.product_search = finder

        def changed(product_id: str) -> None:
            pages.invalidate(product_id)
            finder.clear()

        def reset() -> None:
            pages.clear()
            finder.clear()

        stop = asyncio.Event()
        listener = asyncio.create_task(
            listen(app.state.redis, settings.invalidation_channel, changed, reset, stop)
        )
        assert hot is not None
        hot.bind(pages.page, finder.page_json)
        # Start-up objects (modules, routes, models) leave the collector's full passes,
        # which otherwise show as tail latency (as in the gateway).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            hot.bind(None, None)
            await pages.close()
            await finder.close()
            stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(listener, timeout=3)

    app = create_service_app(
        settings,
        title="minimall catalog",
        routers=[
            probes_router(settings.service_name, "catalog"),
            categories.router,
            brands.router,
            search.router,
            details.router,
            categories.admin,
            brands.admin,
            products.admin,
            stock.admin,
            products.open_api,
            stock.open_api,
            stock.internal,
        ],
        extra_lifespan=lifespan,
    )
    hot = HotReads(app, settings.service_name)
    return hot
