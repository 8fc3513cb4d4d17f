"""The payment HTTP app: ``uvicorn payment.main:create_app --factory``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from payment.deps import build_services
from payment.notifications import endpoints as notifications
from payment.payments import endpoints as payments
from payment.reconciliations import endpoints as reconciliations
from payment.settings import PaymentSettings


def create_app() -> FastAPI:
    settings = PaymentSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings, app.state.sessionmaker) as services:
            app.state.services = services
            yield

    return create_service_app(
        settings,
        title="minimall payment",
        routers=[
            probes_router(settings.service_name, "payments"),
            payments.router,
            notifications.router,
            reconciliations.admin,
        ],
        extra_lifespan=lifespan,
    )
