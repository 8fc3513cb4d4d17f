"""The member HTTP app: ``uvicorn member.main:create_app --factory``."""

from fastapi import FastAPI
from shared.app import create_service_app
from shared.probes import probes_router

from member.settings import MemberSettings


def create_app() -> FastAPI:
    settings = MemberSettings()
    return create_service_app(
        settings,
        title="minimall member",
        routers=[probes_router(settings.service_name, "members")],
    )
