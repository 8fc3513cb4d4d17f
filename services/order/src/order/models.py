"""Tables of the order service (its own database). Kit tables live in ``shared``.

Money is integer fen. ``orders.status`` is the public state machine
(``order.states``) plus two internal states of creation: ``creating`` (holds are being
taken) and ``failed`` (they were given back); neither is ever shown to a member.
"""

import uuid
from datetime import datetime
from typing import Any

from shared.db import new_metadata
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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


class CartLine(Base):
    __tablename__ = "cart_lines"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column(Boolean, default=True)
    price_fen_when_added: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    status: Mapped[str] = mapped_column(String(24))
    goods_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer)
    points_used: Mapped[int] = mapped_column(Integer)
    points_fen: Mapped[int] = mapped_column(Integer)
    freight_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fulfilment: Mapped[str] = mapped_column(String(16))  # delivery | pickup
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    pickup_code: Mapped[str | None] = mapped_column(String(12))
    invoice: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    review_reason: Mapped[str | None] = mapped_column(Text)
    # The coupon marketing locked for this order (issue 8).
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # An order priced by a marketing activity: group_buy | bargain | flash_sale, and the
    # activity's reference (group membership, bargain, flash-sale ticket). Unique together,
    # so one activity reference never makes two orders.
    activity_kind: Mapped[str | None] = mapped_column(String(16))
    activity_ref: Mapped[str | None] = mapped_column(String(64))
    # A group-buy order waits for its group (marketing.group_succeeded) before it ships.
    awaiting_group: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    pay_deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("total_fen >= 0 AND goods_fen >= 0 AND freight_fen >= 0", name="money"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refunds"),
        Index(
            "ix_orders_unpaid_deadline",
            "pay_deadline_at",
            postgresql_where=text("status = 'pending_payment'"),
        ),
        Index("ix_orders_shipped_at", "shipped_at", postgresql_where=text("status = 'shipped'")),
        Index("ix_orders_creating", "created_at", postgresql_where=text("status = 'creating'")),
        Index("ux_orders_activity", "activity_kind", "activity_ref", unique=True),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    product_name: Mapped[str] = mapped_column(String(200))
    specs: Mapped[dict[str, str]] = mapped_column(JSONB)
    image_url: Mapped[str | None] = mapped_column(String(500))
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int] = mapped_column(Integer)  # the line's share of total_fen
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("quantity > 0 AND refunded_quantity BETWEEN 0 AND quantity", name="qty"),
    )


class Transition(Base):
    """Every change of an order's status: who, when, why."""

    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(80))  # member:<id>, staff:<id>, system, …
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _now()


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AfterSale(Base):
    __tablename__ = "after_sales"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(16))  # refund_only | return_refund
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # [{sku_id, quantity}]
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # requested|rejected|refunding|refunded
    previous_order_status: Mapped[str] = mapped_column(String(24))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)


class FreightRule(Base):
    """Freight by province; the row with ``region = '*'`` is the default."""

    __tablename__ = "freight_rules"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    fee_fen: Mapped[int] = mapped_column(Integer)
    free_over_fen: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("fee_fen >= 0", name="fee"),)
