"""Build the clients and handles order's code works with (``deps.Services``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.db import SessionMaker
from shared.http import create_http_client

from order.clients import CatalogClient, MarketingClient, MemberClient
from order.deps import Services
from order.settings import OrderSettings


@asynccontextmanager
async def build_services(
    settings: OrderSettings, sessionmaker: SessionMaker
) -> AsyncIterator[Services]:
    catalog_http = create_http_client(settings.catalog_url)
    member_http = create_http_client(settings.member_url)
    marketing_http = create_http_client(settings.marketing_url)
    try:
        yield Services(
            settings=settings,
            sessionmaker=sessionmaker,
            catalog=CatalogClient(catalog_http, "catalog"),
            member=MemberClient(member_http, "member"),
            marketing=MarketingClient(marketing_http, "marketing"),
        )
    finally:
        await catalog_http.aclose()
        await member_http.aclose()
        await marketing_http.aclose()
