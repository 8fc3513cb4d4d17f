"""Tables of the member service (its own database). Kit tables live in ``shared``.

Personal data: ``phone_sealed`` and ``session_key_sealed`` are AES-GCM ciphertexts
(``member.crypto.DataBox``); only masks are kept in clear. Deleting an account erases the
personal columns and keeps the row (and its points ledger) for accounting.
"""

import uuid
from datetime import datetime

from shared.db import new_metadata
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = new_metadata()


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Level(Base):
    __tablename__ = "levels"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    min_growth: Mapped[int] = mapped_column(Integer, unique=True)
    # Share of the price paid, per 10,000 (9500 = 5% off, 95折); 10000 = no discount.
    discount_rate_bp: Mapped[int] = mapped_column(Integer, default=10000)
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("min_growth >= 0", name="min_growth_non_negative"),
        CheckConstraint(
            "discount_rate_bp > 0 AND discount_rate_bp <= 10000", name="discount_rate_range"
        ),
    )


class Member(Base):
    __tablename__ = "members"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    session_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    nickname: Mapped[str | None] = mapped_column(String(64))
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    growth_value: Mapped[int] = mapped_column(Integer, default=0)
    level_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("levels.id", ondelete="SET NULL")
    )
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    points_held: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("points_balance >= 0", name="points_balance_non_negative"),
        CheckConstraint("points_held >= 0", name="points_held_non_negative"),
        CheckConstraint("growth_value >= 0", name="growth_value_non_negative"),
    )


class RefreshToken(Base):
    """Opaque refresh tokens, kept as SHA-256. Each rotation adds a row to the family;
    presenting a used one again revokes the whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    subject_kind: Mapped[str] = mapped_column(String(8))  # member | staff
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    recipient_name: Mapped[str] = mapped_column(String(32))
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    phone_masked: Mapped[str] = mapped_column(String(32))
    province: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(6))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        Index(
            "uq_addresses_one_default",
            "member_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )


class PointsEntry(Base):
    """The points ledger: every change of a balance is one row; the balance is their sum.

    ``(member_id, kind, reference)`` is unique, so an order never earns twice and a hold,
    commit or release happens once per reference.
    """

    __tablename__ = "points_ledger"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id"), index=True
    )
    delta: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(128))
    # For a reversal: the reference of the earning it reverses.
    source_reference: Mapped[str | None] = mapped_column(String(128))
    balance_after: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (UniqueConstraint("member_id", "kind", "reference"),)


class PointsHold(Base):
    """Points set aside for an order: ``held`` → ``committed`` (spent) or ``released``."""

    __tablename__ = "points_holds"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("members.id"), index=True
    )
    reference: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="held")
    created_at: Mapped[datetime] = _now_column()
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("member_id", "reference"),
        CheckConstraint("points > 0", name="points_positive"),
    )


class ApiKey(Base):
    """A supplier's open-API credential. The secret is shown once at issue and never stored:
    only its signing key, ``SHA-256(secret)``, sealed with the data key (``member.crypto``)."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    signing_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    per_minute: Mapped[int] = mapped_column(Integer)
    daily_quota: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        CheckConstraint("per_minute > 0 AND daily_quota > 0", name="quotas"),
    )
