"""The order HTTP app: ``uvicorn order.main:create_app --factory``."""

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from order.settings import OrderSettings


def create_app() -> FastAPI:
    settings = OrderSettings()
    return create_service_app(
        settings,
        title="minimall order",
        routers=[probes_router(settings.service_name, "orders")],
    )
