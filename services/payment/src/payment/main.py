"""The payment HTTP app: ``uvicorn payment.main:create_app --factory``."""

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from payment.settings import PaymentSettings


def create_app() -> FastAPI:
    settings = PaymentSettings()
    return create_service_app(
        settings,
        title="minimall payment",
        routers=[probes_router(settings.service_name, "payments")],
    )
