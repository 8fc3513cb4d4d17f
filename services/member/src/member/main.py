"""The member HTTP app: ``uvicorn member.main:create_app --factory``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from shared.app import create_service_app
from shared.http import create_http_client
from shared.logging import get_logger
from shared.probes import probes_router

from member.addresses import endpoints as addresses
from member.api_keys import endpoints as api_keys
from member.auth import endpoints as auth
from member.auth.service import Tokens
from member.auth.tokens import TokenSigner
from member.crypto import DataBox
from member.levels import endpoints as levels
from member.members import endpoints as members
from member.points import endpoints as points
from member.settings import MemberSettings
from member.staff import endpoints as staff
from member.staff.service import bootstrap_admin
from member.wechat import endpoints as wechat_messages
from member.wechat.client import WeChatClient

log = get_logger(__name__)


def create_app() -> FastAPI:
    settings = MemberSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.uses_dev_keys:
            log.warning(
                "member.dev_keys_in_use", hint="set MEMBER_JWT_SIGNING_KEY, MEMBER_DATA_KEY"
            )
        signer = TokenSigner(
            settings.jwt_signing_key,
            issuer=settings.jwt_issuer,
            previous_public_keys=settings.jwt_previous_public_keys,
        )
        app.state.tokens = Tokens(signer, settings)
        app.state.box = DataBox(settings.data_key)
        http = create_http_client(settings.wechat_api_base_url, timeout=settings.wechat_timeout_s)
        app.state.wechat = WeChatClient(
            http,
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            refresh_margin_s=settings.wechat_token_refresh_margin_s,
        )
        async with app.state.sessionmaker() as session, session.begin():
            await bootstrap_admin(session, settings.admin_username, settings.admin_password)
        try:
            yield
        finally:
            await http.aclose()

    return create_service_app(
        settings,
        title="minimall member",
        routers=[
            probes_router(settings.service_name, "members"),
            auth.jwks_router,
            auth.router,
            staff.router,
            levels.admin,
            levels.router,
            members.router,
            members.internal,
            addresses.router,
            points.router,
            points.admin,
            points.internal,
            addresses.internal,
            api_keys.router,
            api_keys.internal,
            wechat_messages.internal,  # subscription messages for other services
        ],
        extra_lifespan=lifespan,
    )
