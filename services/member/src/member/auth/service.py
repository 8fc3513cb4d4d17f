"""Token pairs: issue, rotate (with reuse detection), revoke."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from member.auth import repository
from member.auth.tokens import TokenSigner, hash_refresh_token, new_refresh_token
from member.models import RefreshToken
from member.settings import MemberSettings

MEMBER = "member"
STAFF = "staff"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Rotated:
    subject_id: uuid.UUID
    family_id: uuid.UUID


@dataclass(frozen=True)
class Reused:
    """A used token came back; the family was revoked in this transaction (commit it)."""

    family_id: uuid.UUID


class Invalid:
    pass


RotationOutcome = Rotated | Reused | Invalid


def now() -> datetime:
    return datetime.now(UTC)


class Tokens:
    def __init__(self, signer: TokenSigner, settings: MemberSettings) -> None:
        self.signer = signer
        self.settings = settings

    async def issue_pair(
        self,
        session: AsyncSession,
        *,
        kind: str,
        subject_id: uuid.UUID,
        family_id: uuid.UUID | None = None,
        roles: list[str] | None = None,
    ) -> TokenPair:
        s = self.settings
        if kind == MEMBER:
            access = self.signer.issue(
                subject=str(subject_id), audience=s.member_audience, ttl_s=s.access_token_ttl_s
            )
            refresh_ttl = s.refresh_token_ttl_s
        else:
            access = self.signer.issue(
                subject=str(subject_id),
                audience=s.staff_audience,
                ttl_s=s.staff_access_token_ttl_s,
                roles=roles or [],
            )
            refresh_ttl = s.staff_refresh_token_ttl_s
        refresh = new_refresh_token()
        session.add(
            RefreshToken(
                family_id=family_id or uuid.uuid4(),
                subject_kind=kind,
                subject_id=subject_id,
                token_hash=hash_refresh_token(refresh),
                expires_at=now() + timedelta(seconds=refresh_ttl),
            )
        )
        await session.flush()
        return TokenPair(access.token, refresh, access.expires_in)


async def rotate(session: AsyncSession, kind: str, presented: str) -> RotationOutcome:
    """Mark the presented token used. A token used before revokes its family (theft)."""
    row = await repository.by_hash_for_update(session, hash_refresh_token(presented))
    at = now()
    if row is None or row.subject_kind != kind or row.revoked_at is not None:
        return Invalid()
    if row.used_at is not None:
        await repository.revoke_family(session, row.family_id, at)
        return Reused(row.family_id)
    if row.expires_at <= at:
        return Invalid()
    row.used_at = at
    await session.flush()
    return Rotated(row.subject_id, row.family_id)


async def revoke(session: AsyncSession, kind: str, presented: str) -> uuid.UUID | None:
    """Logout: revoke the presented token's family. Returns the subject, if the token was known."""
    row = await repository.by_hash_for_update(session, hash_refresh_token(presented))
    if row is None or row.subject_kind != kind:
        return None
    await repository.revoke_family(session, row.family_id, now())
    return row.subject_id


async def revoke_all(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> None:
    await repository.revoke_subject(session, kind, subject_id, now())
