"""What endpoints, handlers and the settler get: clients made once per process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from shared.db import SessionMaker
from shared.http import create_http_client
from shared.identity import CurrentMemberId

from payment.clients import MemberClient, OrderClient
from payment.settings import PaymentSettings
from payment.wechatpay import WeChatPayClient, create_wechatpay_client


@dataclass
class Services:
    settings: PaymentSettings
    sessionmaker: SessionMaker
    wechatpay: WeChatPayClient
    orders: OrderClient
    members: MemberClient


@asynccontextmanager
async def build_services(
    settings: PaymentSettings, sessionmaker: SessionMaker
) -> AsyncIterator[Services]:
    wechatpay = create_wechatpay_client(settings)
    order_http = create_http_client(settings.order_url)
    member_http = create_http_client(settings.member_url)
    try:
        yield Services(
            settings=settings,
            sessionmaker=sessionmaker,
            wechatpay=wechatpay,
            orders=OrderClient(order_http, "order"),
            members=MemberClient(member_http, "member"),
        )
    finally:
        await wechatpay.aclose()
        await order_http.aclose()
        await member_http.aclose()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
MemberIdDep = CurrentMemberId
