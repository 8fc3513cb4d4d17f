"""The marketing HTTP app: ``uvicorn marketing.main:create_app --factory``."""

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from marketing.settings import MarketingSettings


def create_app() -> FastAPI:
    settings = MarketingSettings()
    return create_service_app(
        settings,
        title="minimall marketing",
        routers=[probes_router(settings.service_name, "marketing")],
    )
