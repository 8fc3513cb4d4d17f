"""``Idempotency-Key`` for order creation: the same key and body answer the same, forever
(``idempotency_ttl_h``), even after a restart; another body → 422; while the first request
is still running → 409. A key whose request died mid-way is taken over after
``creating_timeout_s`` (the half-made order is compensated by the sweeper)."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from order.deps import Services
from order.models import IdempotencyKey
from order.orders.errors import IdempotencyInFlight, IdempotencyKeyReused

MAX_KEY_LENGTH = 128


def request_hash(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    services: Services, member_id: uuid.UUID, key: str, digest: str
) -> tuple[int, dict[str, Any]] | None:
    """Claim ``key`` for this request; or return the stored answer of an earlier one."""
    now = datetime.now(UTC)
    settings = services.settings
    async with services.sessionmaker() as session, session.begin():
        claimed = await session.scalar(
            insert(IdempotencyKey)
            .values(
                member_id=member_id,
                key=key,
                request_hash=digest,
                state="in_flight",
                expires_at=now + timedelta(hours=settings.idempotency_ttl_h),
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed is not None:
            return None
        row = await session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.member_id == member_id, IdempotencyKey.key == key)
            .with_for_update()
        )
        assert row is not None
        if row.expires_at < now:
            _restart(row, digest, now, settings.idempotency_ttl_h)
            return None
        if row.request_hash != digest:
            raise IdempotencyKeyReused("This Idempotency-Key was used with another request.")
        if row.state == "done":
            assert row.response_status is not None and row.response_body is not None
            return row.response_status, row.response_body
        if now - row.created_at < timedelta(seconds=settings.creating_timeout_s):
            raise IdempotencyInFlight("The first request with this key is still running.")
        _restart(row, digest, now, settings.idempotency_ttl_h)  # its request died
        return None


def _restart(row: IdempotencyKey, digest: str, now: datetime, ttl_h: int) -> None:
    row.request_hash = digest
    row.state = "in_flight"
    row.created_at = now
    row.expires_at = now + timedelta(hours=ttl_h)
    row.response_status = None
    row.response_body = None


async def finish(
    services: Services, member_id: uuid.UUID, key: str, status: int, body: dict[str, Any]
) -> None:
    async with services.sessionmaker() as session, session.begin():
        row = await session.get(IdempotencyKey, (member_id, key), with_for_update=True)
        if row is not None:
            row.state = "done"
            row.response_status = status
            row.response_body = body


async def release(services: Services, member_id: uuid.UUID, key: str) -> None:
    """The request failed for a passing reason (a service away): let the client retry."""
    async with services.sessionmaker() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.member_id == member_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
            )
        )


async def purge_expired(services: Services) -> int:
    async with services.sessionmaker() as session, session.begin():
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < datetime.now(UTC))
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
