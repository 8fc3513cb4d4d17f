"""The member's addresses (``/api/v1/members/me/addresses``); another member's are 404."""

import uuid

from fastapi import APIRouter, status
from shared.db import SessionDep
from shared.pagination import Page, PageParamsDep

from member.addresses import repository, service
from member.addresses.schemas import AddressCreate, AddressForShipping, AddressRead, AddressUpdate
from member.deps import BoxDep, MemberIdDep, SettingsDep

router = APIRouter(prefix="/api/v1/members/me/addresses", tags=["addresses"])
internal = APIRouter(
    prefix="/internal/v1/members/{member_id}/addresses", tags=["addresses (internal)"]
)


@router.get("")
async def list_addresses(
    member_id: MemberIdDep, session: SessionDep, params: PageParamsDep
) -> Page[AddressRead]:
    rows = await repository.page_for(session, member_id, params.offset, params.page_size)
    total = await repository.count_for(session, member_id)
    return Page.of([service.address_read(a) for a in rows], total, params)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_address(
    member_id: MemberIdDep,
    body: AddressCreate,
    session: SessionDep,
    box: BoxDep,
    settings: SettingsDep,
) -> AddressRead:
    address = await service.create(session, box, member_id, body, settings.max_addresses)
    return service.address_read(address)


@router.get("/{address_id}")
async def get_address(
    member_id: MemberIdDep, address_id: uuid.UUID, session: SessionDep
) -> AddressRead:
    return service.address_read(await service.get(session, member_id, address_id))


@router.patch("/{address_id}")
async def update_address(
    member_id: MemberIdDep,
    address_id: uuid.UUID,
    body: AddressUpdate,
    session: SessionDep,
    box: BoxDep,
) -> AddressRead:
    address = await service.update(session, box, member_id, address_id, body)
    return service.address_read(address)


@router.post("/{address_id}/default")
async def make_default(
    member_id: MemberIdDep, address_id: uuid.UUID, session: SessionDep
) -> AddressRead:
    return service.address_read(await service.make_default(session, member_id, address_id))


@router.delete("/{address_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_address(
    member_id: MemberIdDep, address_id: uuid.UUID, session: SessionDep
) -> None:
    await service.delete(session, member_id, address_id)


@internal.get("/{address_id}")
async def address_for_shipping(
    member_id: uuid.UUID, address_id: uuid.UUID, session: SessionDep, box: BoxDep
) -> AddressForShipping:
    return service.for_shipping(await service.get(session, member_id, address_id), box)
