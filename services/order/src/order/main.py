"""The order HTTP app: ``uvicorn order.main:create_app --factory``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from order import flash_sales, freight
from order.aftersales import endpoints as aftersales
from order.carts import endpoints as carts
from order.orders import activities
from order.orders import endpoints as orders
from order.services import build_services
from order.settings import OrderSettings


def create_app() -> FastAPI:
    settings = OrderSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings, app.state.sessionmaker) as services:
            app.state.services = services
            yield

    return create_service_app(
        settings,
        title="minimall order",
        routers=[
            probes_router(settings.service_name, "orders"),
            carts.router,
            orders.router,
            aftersales.router,
            freight.router,
            aftersales.admin,
            orders.admin,
            orders.open_api,
            orders.internal,
            activities.internal,  # stale carts, for marketing
            flash_sales.internal,  # orders of a flash sale, for marketing
        ],
        extra_lifespan=lifespan,
    )
