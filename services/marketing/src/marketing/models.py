"""Tables of the marketing service (its own database). Kit tables live in ``shared``."""

import uuid
from datetime import datetime
from typing import Any

from shared.db import new_metadata
from sqlalchemy import (
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


# --- coupons and promotions (issue 8) ---


class CouponTemplate(Base):
    """What a coupon is worth and who may have one. ``kind``: ``fixed`` (立减 ``off_fen``),
    ``threshold`` (满 ``min_spend_fen`` 减 ``off_fen``), ``percent`` (``rate_bp`` of the
    covered amount, at most ``max_off_fen``). Validity: ``fixed`` (``valid_from`` …
    ``valid_until``) or ``relative`` (``valid_days`` from claiming)."""

    __tablename__ = "coupon_templates"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    off_fen: Mapped[int] = mapped_column(Integer, default=0)
    rate_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    max_off_fen: Mapped[int | None] = mapped_column(Integer)
    min_spend_fen: Mapped[int] = mapped_column(Integer, default=0)
    scope: Mapped[str] = mapped_column(String(16))  # all | categories | products
    scope_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    validity: Mapped[str] = mapped_column(String(16))  # fixed | relative
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_days: Mapped[int | None] = mapped_column(Integer)
    claim_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    total_quantity: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    per_member_limit: Mapped[int] = mapped_column(Integer, default=1)
    claimable: Mapped[bool] = mapped_column(Boolean, default=True)  # False: staff issue only
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|paused|ended
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('fixed', 'threshold', 'percent')", name="kind"),
        CheckConstraint(
            "off_fen >= 0 AND min_spend_fen >= 0 AND rate_bp BETWEEN 1 AND 10000"
            " AND (max_off_fen IS NULL OR max_off_fen > 0)",
            name="terms",
        ),
        CheckConstraint(
            "total_quantity IS NULL OR issued_count <= total_quantity", name="quantity"
        ),
        CheckConstraint("issued_count >= 0 AND used_count >= 0", name="counts"),
        CheckConstraint("per_member_limit >= 1", name="per_member_limit"),
    )


class CouponClaim(Base):
    """How many coupons of a template a member has claimed (ever): the per-member limit is
    enforced by one conditional upsert on this row."""

    __tablename__ = "coupon_claims"

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupon_templates.id"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    claimed: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("claimed >= 0", name="claimed"),)


class Coupon(Base):
    """A member's coupon: ``available`` → ``locked`` (an order holds it) → ``used`` (paid);
    a lock is given back (``available``, or ``expired`` if past ``valid_until``) when the
    order is cancelled or its creation fails; ``available`` → ``expired`` | ``revoked``."""

    __tablename__ = "coupons"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # claimed | granted
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    discount_fen: Mapped[int | None] = mapped_column(Integer)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # order.created confirmed the lock; an unconfirmed lock is given back after a while.
    lock_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "status IN ('available', 'locked', 'used', 'expired', 'revoked')", name="status"
        ),
        CheckConstraint(
            "(status IN ('locked', 'used')) = (order_id IS NOT NULL)", name="order_when_held"
        ),
        Index("ix_coupons_member_status", "member_id", "status"),
        # One coupon per order.
        Index(
            "ux_coupons_order",
            "order_id",
            unique=True,
            postgresql_where=text("status IN ('locked', 'used')"),
        ),
        Index(
            "ix_coupons_available_until",
            "valid_until",
            postgresql_where=text("status = 'available'"),
        ),
        Index(
            "ix_coupons_unconfirmed_locks",
            "locked_at",
            postgresql_where=text("status = 'locked' AND NOT lock_confirmed"),
        ),
    )


class Promotion(Base):
    """A promotion running from ``starts_at`` to ``ends_at`` over a scope. ``kind`` and its
    ``rules``: ``limited_time`` ``{rate_bp}``, ``member_price`` ``{level_rates: {name:
    rate_bp}}``, ``full_reduction`` ``{tiers: [{threshold_fen, off_fen}], repeat,
    max_off_fen}``, ``full_discount`` ``{tiers: [{threshold_fen, rate_bp}]}``."""

    __tablename__ = "promotions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    scope_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "kind IN ('limited_time', 'member_price', 'full_reduction', 'full_discount')",
            name="kind",
        ),
        CheckConstraint("ends_at > starts_at", name="window"),
        Index("ix_promotions_running", "ends_at", postgresql_where=text("status = 'active'")),
    )


# --- group-buy, bargain, referral, abandoned cart (issue 8) ---


class GroupBuyActivity(Base):
    """A group-buy offer on one SKU: groups of ``group_size`` at ``group_price_fen``, each
    open ``duration_s`` after its leader opens it."""

    __tablename__ = "group_buy_activities"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    group_price_fen: Mapped[int] = mapped_column(Integer)
    group_size: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "group_price_fen > 0 AND group_size BETWEEN 2 AND 100 AND duration_s > 0"
            " AND ends_at > starts_at",
            name="terms",
        ),
    )


class GroupBuyGroup(Base):
    """One group: ``pending`` until its leader pays, ``forming`` (joinable) until full or
    expired, then ``succeeded`` or ``failed``; ``cancelled`` if the leader never paid."""

    __tablename__ = "group_buy_groups"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("group_buy_activities.id"), index=True
    )
    leader_member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    price_fen: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("paid_count BETWEEN 0 AND size", name="paid_count"),
        Index(
            "ix_group_buy_groups_open_expiry",
            "expires_at",
            postgresql_where=text("status IN ('pending', 'forming')"),
        ),
    )


class GroupBuyMember(Base):
    """A slot in a group. ``reserved`` (taken, not paid: it counts against the size),
    ``joined`` (paid), ``cancelled`` (its order was cancelled or never made), ``failed``
    (the group failed), ``refunded``. Its id is the order's activity reference."""

    __tablename__ = "group_buy_members"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("group_buy_groups.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # One live slot per member per group (a cancelled slot may be taken again).
        Index(
            "ux_group_buy_members_live",
            "group_id",
            "member_id",
            unique=True,
            postgresql_where=text("status IN ('reserved', 'joined')"),
        ),
    )


class BargainActivity(Base):
    """A bargain offer: from ``start_price_fen`` friends' helps cut to ``floor_price_fen`` in
    about ``target_helps`` helps, within ``duration_s`` of starting."""

    __tablename__ = "bargain_activities"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    start_price_fen: Mapped[int] = mapped_column(Integer)
    floor_price_fen: Mapped[int] = mapped_column(Integer)
    target_helps: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "floor_price_fen > 0 AND start_price_fen > floor_price_fen"
            " AND target_helps BETWEEN 1 AND 1000 AND duration_s > 0 AND ends_at > starts_at",
            name="terms",
        ),
    )


class Bargain(Base):
    """A member's bargain: ``active`` (helps and purchase), ``ordered`` (an order holds it),
    ``purchased`` (paid), ``expired``."""

    __tablename__ = "bargains"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bargain_activities.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    start_price_fen: Mapped[int] = mapped_column(Integer)
    floor_price_fen: Mapped[int] = mapped_column(Integer)
    current_price_fen: Mapped[int] = mapped_column(Integer)
    target_helps: Mapped[int] = mapped_column(Integer)
    helps_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    order_attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("current_price_fen >= floor_price_fen", name="floor"),
        # One bargain per member per activity.
        Index("ux_bargains_member", "activity_id", "member_id", unique=True),
    )


class BargainHelp(Base):
    __tablename__ = "bargain_helps"

    bargain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bargains.id"), primary_key=True)
    helper_member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    cut_fen: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("cut_fen > 0", name="cut_positive"),)


class ReferralBinding(Base):
    """Who referred a member: the first binding wins and never changes."""

    __tablename__ = "referral_bindings"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("member_id <> referrer_id", name="not_self"),)


class CommissionRate(Base):
    """Staff's commission rates: per product (wins) or per category (nearest wins)."""

    __tablename__ = "commission_rates"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # product | category
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("scope IN ('product', 'category')", name="scope"),
        CheckConstraint("rate_bp BETWEEN 0 AND 5000", name="rate"),
    )


class CommissionEntry(Base):
    """A referrer's ledger: ``commission`` (positive, on a completed order) and ``reversal``
    (negative, on a refund); ``pending`` until staff settle it."""

    __tablename__ = "commission_entries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # commission | reversal
    # For a reversal, the refund's id (one reversal per refund).
    refund_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    base_fen: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | settled
    settlement_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "ux_commission_entries_order",
            "order_id",
            unique=True,
            postgresql_where=text("kind = 'commission'"),
        ),
        Index(
            "ux_commission_entries_refund",
            "refund_id",
            unique=True,
            postgresql_where=text("kind = 'reversal'"),
        ),
    )


class CommissionSettlement(Base):
    __tablename__ = "commission_settlements"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    settled_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AbandonedCartOffer(Base):
    """The coupon offers sent for carts left alone: at most one per member per window."""

    __tablename__ = "abandoned_cart_offers"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    cart_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    coupon_template_id: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(64))
    # offered (coupon and message) | coupon_only (no subscription) | failed
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AbandonedCartWindow(Base):
    """The last offer per member: claimed atomically, so replicas never offer twice."""

    __tablename__ = "abandoned_cart_windows"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    last_offer_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- flash sales (issue 9) ---


class FlashSale(Base):
    """A flash sale (秒杀) of ``total_units`` of one SKU at ``price_fen``. Its units are
    numbered slots ``0 … total_units - 1``, each held at catalog as a reservation of one
    unit (key ``fs:<sale>:<slot>``) from loading until it is paid (committed) or the sale is
    settled (released). ``status``: ``scheduled`` | ``cancelled``; upcoming, running and
    ended follow from the clock."""

    __tablename__ = "flash_sales"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    price_fen: Mapped[int] = mapped_column(Integer)
    total_units: Mapped[int] = mapped_column(Integer)
    per_member_limit: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payment_window_s: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    loaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    load_error: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "price_fen > 0 AND total_units > 0 AND per_member_limit >= 1"
            " AND payment_window_s > 0 AND ends_at > starts_at",
            name="terms",
        ),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status"),
        Index("ix_flash_sales_open", "ends_at", postgresql_where=text("settled_at IS NULL")),
    )


class FlashSaleTicket(Base):
    """A purchase the Redis step accepted (202), recorded here by the forwarder: the truth
    Redis is rebuilt from. ``status``: ``queued`` → ``ordered`` (``order_id``) or
    ``rejected`` (``reason``). ``returned_at``: its units went back to the sale (order
    cancelled or rejected), once. ``paid_at``: its order was paid; ``committed_at``: its
    slots were committed at catalog."""

    __tablename__ = "flash_sale_tickets"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    sale_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    quantity: Mapped[int] = mapped_column(Integer)
    slots: Mapped[list[int]] = mapped_column(JSONB)
    address_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(String(200))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    purchased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    requeued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'ordered', 'rejected')", name="status"),
        CheckConstraint("quantity >= 1", name="quantity"),
        Index("ix_flash_sale_tickets_member", "sale_id", "member_id"),
        Index(
            "ix_flash_sale_tickets_queued",
            "recorded_at",
            postgresql_where=text("status = 'queued'"),
        ),
    )
