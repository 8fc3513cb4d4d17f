"""Addresses: at most ``MAX_ADDRESSES`` per member, exactly one default while any exist.

Every change locks the member row first, so concurrent requests cannot pass the limit or
leave two defaults (a partial unique index backs the second rule).
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from member.addresses import repository
from member.addresses.errors import AddressDefaultRequired, AddressLimitReached, AddressNotFound
from member.addresses.schemas import AddressCreate, AddressForShipping, AddressRead, AddressUpdate
from member.crypto import DataBox, mask_phone
from member.members import repository as members_repository
from member.members.errors import MemberGone
from member.models import Address


def phone_context(address_id: uuid.UUID) -> str:
    return f"address_phone:{address_id}"


def address_read(address: Address) -> AddressRead:
    return AddressRead(
        id=address.id,
        recipient_name=address.recipient_name,
        phone=address.phone_masked,
        province=address.province,
        city=address.city,
        district=address.district,
        detail=address.detail,
        postal_code=address.postal_code,
        is_default=address.is_default,
        created_at=address.created_at,
        updated_at=address.updated_at,
    )


def for_shipping(address: Address, box: DataBox) -> AddressForShipping:
    return AddressForShipping(
        **address_read(address).model_dump(),
        phone_number=box.open(address.phone_sealed, phone_context(address.id)),
    )


async def _lock_member(session: AsyncSession, member_id: uuid.UUID) -> None:
    if await members_repository.active(session, member_id, for_update=True) is None:
        raise MemberGone("This account no longer exists; log in again.")


async def _owned(session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID) -> Address:
    address = await repository.owned(session, member_id, address_id)
    if address is None:
        raise AddressNotFound("No such address.")
    return address


def _set_phone(address: Address, box: DataBox, phone: str) -> None:
    address.phone_sealed = box.seal(phone, phone_context(address.id))
    address.phone_masked = mask_phone(phone)


async def create(
    session: AsyncSession, box: DataBox, member_id: uuid.UUID, body: AddressCreate, limit: int
) -> Address:
    await _lock_member(session, member_id)
    count = await repository.count_for(session, member_id)
    if count >= limit:
        raise AddressLimitReached(f"At most {limit} addresses.", details=[{"max": limit}])
    is_default = body.is_default or count == 0
    if is_default:
        await repository.clear_default(session, member_id)
    now = datetime.now(UTC)
    address = Address(
        id=uuid.uuid4(),
        member_id=member_id,
        created_at=now,
        updated_at=now,
        is_default=is_default,
        **body.model_dump(exclude={"phone", "is_default"}),
    )
    _set_phone(address, box, body.phone)
    session.add(address)
    await session.flush()
    return address


async def get(session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID) -> Address:
    return await _owned(session, member_id, address_id)


async def update(
    session: AsyncSession,
    box: DataBox,
    member_id: uuid.UUID,
    address_id: uuid.UUID,
    body: AddressUpdate,
) -> Address:
    await _lock_member(session, member_id)
    address = await _owned(session, member_id, address_id)
    changes = body.model_dump(exclude_unset=True, exclude={"phone", "is_default"})
    for key, value in changes.items():
        if value is not None or key == "postal_code":
            setattr(address, key, value)
    if body.phone is not None:
        _set_phone(address, box, body.phone)
    if body.is_default is True and not address.is_default:
        await repository.clear_default(session, member_id)
        address.is_default = True
    elif body.is_default is False and address.is_default:
        raise AddressDefaultRequired("Make another address the default instead.")
    address.updated_at = datetime.now(UTC)
    await session.flush()
    return address


async def make_default(
    session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID
) -> Address:
    await _lock_member(session, member_id)
    address = await _owned(session, member_id, address_id)
    if not address.is_default:
        await repository.clear_default(session, member_id)
        address.is_default = True
        address.updated_at = datetime.now(UTC)
        await session.flush()
    return address


async def delete(session: AsyncSession, member_id: uuid.UUID, address_id: uuid.UUID) -> None:
    await _lock_member(session, member_id)
    address = await _owned(session, member_id, address_id)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:
        successor = await repository.newest_other(session, member_id, address_id)
        if successor is not None:
            successor.is_default = True
            await session.flush()
