"""What endpoints get from the lifespan (``app.state``) and from the caller's identity."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from shared.db import SessionMaker
from shared.identity import CurrentMember, Unauthenticated

from order.clients import CatalogClient, MemberClient
from order.settings import OrderSettings


@dataclass
class Services:
    settings: OrderSettings
    sessionmaker: SessionMaker
    catalog: CatalogClient
    member: MemberClient


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _member_id(member: CurrentMember) -> uuid.UUID:
    try:
        return uuid.UUID(member.member_id)
    except ValueError as exc:
        raise Unauthenticated("The caller's identity is not valid.") from exc


ServicesDep = Annotated[Services, Depends(_services)]
MemberIdDep = Annotated[uuid.UUID, Depends(_member_id)]
