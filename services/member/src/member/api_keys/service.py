"""Issue, list and revoke supplier API keys; hand the gateway what it checks signatures with."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from shared.errors import NotFound
from shared.outbox import add_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from member.api_keys.schemas import ApiKeyCreate, ApiKeyForGateway, ApiKeyIssued, ApiKeyRead
from member.crypto import DataBox
from member.models import ApiKey


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


def _context(key_id: str) -> str:
    return f"api_key:{key_id}"


async def issue(
    session: AsyncSession, box: DataBox, body: ApiKeyCreate, staff_id: uuid.UUID
) -> ApiKeyIssued:
    key_id = f"ak_{secrets.token_hex(8)}"
    secret = f"sk_{secrets.token_urlsafe(32)}"
    signing_key = hashlib.sha256(secret.encode()).hexdigest()
    key = ApiKey(
        key_id=key_id,
        supplier_id=body.supplier_id,
        name=body.name,
        signing_key_sealed=box.seal(signing_key, _context(key_id)),
        per_minute=body.per_minute,
        daily_quota=body.daily_quota,
        status="active",
        created_by=staff_id,
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    add_event(
        session,
        "member.api_key_issued",
        key_id,
        {"key_id": key_id, "supplier_id": body.supplier_id},
    )
    return ApiKeyIssued(**ApiKeyRead.model_validate(key).model_dump(), secret=secret)


async def page(
    session: AsyncSession, supplier_id: str | None, offset: int, limit: int
) -> tuple[list[ApiKey], int]:
    query = select(ApiKey)
    if supplier_id is not None:
        query = query.where(ApiKey.supplier_id == supplier_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(ApiKey.created_at.desc(), ApiKey.key_id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def revoke(session: AsyncSession, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None:
        raise ApiKeyNotFound(f"No API key {key_id}.")
    if key.status == "active":
        key.status = "revoked"
        key.revoked_at = datetime.now(UTC)
        add_event(
            session,
            "member.api_key_revoked",
            key_id,
            {"key_id": key_id, "supplier_id": key.supplier_id},
        )
        await session.flush()
    return key


async def for_gateway(session: AsyncSession, box: DataBox, key_id: str) -> ApiKeyForGateway:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(f"No API key {key_id}.")
    return ApiKeyForGateway(
        key_id=key.key_id,
        supplier_id=key.supplier_id,
        status="active" if key.status == "active" else "revoked",
        per_minute=key.per_minute,
        daily_quota=key.daily_quota,
        signing_key=box.open(key.signing_key_sealed, _context(key.key_id)),
    )
