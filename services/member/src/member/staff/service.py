"""Staff accounts: login with lockout, and their management by admins.

Failed logins are counted per username in Redis; after ``staff_max_failed_logins`` the
username is locked for ``staff_lockout_s`` (423 with Retry-After), even for the right
password. Unknown usernames are counted and timed like known ones.
"""

import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from member.auth import service as auth_service
from member.models import Staff
from member.settings import MemberSettings
from member.staff import repository
from member.staff.errors import (
    LastAdmin,
    StaffCredentialsInvalid,
    StaffLocked,
    StaffNotFound,
    StaffUsernameTaken,
)
from member.staff.passwords import hash_password, needs_rehash, verify_password
from member.staff.schemas import StaffCreate, StaffUpdate

log = get_logger(__name__)


def _failures_key(username: str) -> str:
    return f"member:staff_login_failures:{username.lower()}"


async def authenticate(
    session: AsyncSession, redis: "Redis", settings: MemberSettings, username: str, password: str
) -> Staff:
    key = _failures_key(username)
    failures = int(await redis.get(key) or 0)
    if failures >= settings.staff_max_failed_logins:
        retry = max(int(await redis.ttl(key)), 1)
        raise StaffLocked(
            "Too many failed logins; the account is locked for a while.",
            headers={"Retry-After": str(retry)},
        )
    staff = await repository.by_username(session, username)
    ok = await verify_password(staff.password_hash if staff else None, password)
    if staff is None or not ok or not staff.active:
        count = int(await redis.incr(key))
        if count == 1 or count >= settings.staff_max_failed_logins:
            await redis.expire(key, settings.staff_lockout_s)
        log.warning("member.staff_login_failed", username=username[:64], failures=count)
        if count >= settings.staff_max_failed_logins:
            log.warning("member.staff_locked", username=username[:64])
        raise StaffCredentialsInvalid("Wrong username or password.")
    await redis.delete(key)
    staff.last_login_at = datetime.now(UTC)
    if needs_rehash(staff.password_hash):
        staff.password_hash = await hash_password(password)
    await session.flush()
    return staff


async def unlock(redis: "Redis", username: str) -> None:
    await redis.delete(_failures_key(username))


async def is_locked(redis: "Redis", settings: MemberSettings, username: str) -> bool:
    return int(await redis.get(_failures_key(username)) or 0) >= settings.staff_max_failed_logins


async def bootstrap_admin(session: AsyncSession, username: str, password: str) -> bool:
    """Create the first admin unless that username exists. True if created."""
    if not password:
        return False
    if await repository.by_username(session, username) is not None:
        return False
    created = await repository.insert_if_absent(
        session, username, await hash_password(password), ["admin"]
    )
    if created:
        log.info("member.admin_bootstrapped", username=username)
    return created


async def create(session: AsyncSession, body: StaffCreate) -> Staff:
    if await repository.by_username(session, body.username) is not None:
        raise StaffUsernameTaken("This username is taken.")
    staff = Staff(
        id=uuid.uuid4(),
        username=body.username,
        password_hash=await hash_password(body.password),
        display_name=body.display_name,
        roles=sorted(set(body.roles)),
        active=True,
    )
    session.add(staff)
    await session.flush()
    await session.refresh(staff)
    return staff


async def get(session: AsyncSession, staff_id: uuid.UUID, *, for_update: bool = False) -> Staff:
    staff = await repository.get(session, staff_id, for_update=for_update)
    if staff is None:
        raise StaffNotFound("No such staff account.")
    return staff


async def update(session: AsyncSession, staff_id: uuid.UUID, body: StaffUpdate) -> Staff:
    admins = await repository.active_admins_for_update(session)  # serialise admin changes
    staff = await get(session, staff_id, for_update=True)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    roles = sorted(set(changes.get("roles", staff.roles)))
    active = changes.get("active", staff.active)
    stays_admin = active and "admin" in roles
    if staff in admins and not stays_admin and len(admins) == 1:
        raise LastAdmin("This is the last active admin.")
    staff.roles = roles
    staff.active = active
    if "display_name" in changes:
        staff.display_name = changes["display_name"]
    staff.updated_at = datetime.now(UTC)
    if not active:  # new roles reach tokens at the next refresh; inactive ones cannot refresh
        await auth_service.revoke_all(session, auth_service.STAFF, staff.id)
    await session.flush()
    return staff


async def set_password(session: AsyncSession, staff_id: uuid.UUID, password: str) -> Staff:
    staff = await get(session, staff_id, for_update=True)
    staff.password_hash = await hash_password(password)
    staff.updated_at = datetime.now(UTC)
    await auth_service.revoke_all(session, auth_service.STAFF, staff.id)
    await session.flush()
    return staff
