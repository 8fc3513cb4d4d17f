"""The catalog HTTP app: ``uvicorn catalog.main:create_app --factory``."""

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from catalog.settings import CatalogSettings


def create_app() -> FastAPI:
    settings = CatalogSettings()
    return create_service_app(
        settings,
        title="minimall catalog",
        routers=[probes_router(settings.service_name, "catalog")],
    )
