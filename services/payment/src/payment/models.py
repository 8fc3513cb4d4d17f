"""Tables of the payment service (its own database). Kit tables live in ``shared``.

Money is integer fen; times are UTC. One ``payments`` row per order (``order_id`` and
``out_trade_no`` unique: the number WeChat knows is derived from the order id, so it never
changes); a WeChat transaction is recorded once (``transaction_id`` unique). Refunds are keyed
by the order's ``refund_id`` and WeChat's ``out_refund_no`` (both unique, derived).
"""

import uuid
from datetime import date, datetime
from typing import Any

from shared.db import new_metadata
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = new_metadata()


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentStatus:
    PENDING = "pending"  # created; maybe prepaid; not paid as far as we know
    PAID = "paid"  # WeChat said SUCCESS with the order's amount
    FLAGGED = "flagged"  # WeChat said SUCCESS with another amount: staff look at it
    CLOSED = "closed"  # the order was cancelled and the WeChat order closed (or never made)


class RefundStatus:
    REQUESTED = "requested"  # recorded; not yet accepted by WeChat
    PROCESSING = "processing"  # accepted by WeChat; the outcome comes later
    SUCCEEDED = "succeeded"
    ABNORMAL = "abnormal"  # WeChat could not pay it back (staff act)
    CLOSED = "closed"
    FAILED = "failed"  # WeChat refused the request for good


class RefundKind:
    AFTER_SALE = "after_sale"  # order.refund_requested
    CANCELLED_ORDER = "cancelled_order"  # a payment that arrived after cancellation


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(127))
    status: Mapped[str] = mapped_column(String(16))
    payer_openid: Mapped[str | None] = mapped_column(String(128))
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepay_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    time_expire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    prepaid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    flag_reason: Mapped[str | None] = mapped_column(Text)
    order_cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_queried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index("ix_payments_pending", "prepaid_at", postgresql_where=text("status = 'pending'")),
        Index("ix_payments_paid_at", "paid_at"),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    refund_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    wechat_refund_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_queried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index(
            "ix_refunds_open",
            "created_at",
            postgresql_where=text("status IN ('requested', 'processing')"),
        ),
    )


class Reconciliation(Base):
    """One comparison of WeChat's trade bill of ``bill_date`` (China time) with our payments."""

    __tablename__ = "reconciliations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    bill_date: Mapped[date] = mapped_column(Date)
    run_by: Mapped[str] = mapped_column(String(64))  # "system" (daily) or the staff id
    status: Mapped[str] = mapped_column(String(16))  # matched | differences
    wechat_count: Mapped[int] = mapped_column(Integer)
    wechat_total_fen: Mapped[int] = mapped_column(BigInteger)
    our_count: Mapped[int] = mapped_column(Integer)
    our_total_fen: Mapped[int] = mapped_column(BigInteger)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_reconciliations_created_at", "created_at"),
        # The daily run happens once per day, whichever consumer replica gets there first.
        Index(
            "uq_reconciliations_daily",
            "bill_date",
            unique=True,
            postgresql_where=text("run_by = 'system'"),
        ),
    )
