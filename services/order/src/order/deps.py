"""What endpoints get from the lifespan (``app.state``) and from the caller's identity."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from shared.db import SessionMaker
from shared.identity import CurrentMemberId

from order.clients import CatalogClient, MarketingClient, MemberClient
from order.settings import OrderSettings


@dataclass
class Services:
    settings: OrderSettings
    sessionmaker: SessionMaker
    catalog: CatalogClient
    member: MemberClient
    marketing: MarketingClient


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
MemberIdDep = CurrentMemberId
