"""marketing: group-buy, bargain, referral, abandoned cart

Revision ID: marketing_0003
Revises: marketing_0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "marketing_0003"
down_revision: str | None = "marketing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "group_buy_activities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("group_price_fen", sa.Integer(), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _created(),
        sa.CheckConstraint(
            "group_price_fen > 0 AND group_size BETWEEN 2 AND 100 AND duration_s > 0"
            " AND ends_at > starts_at",
            name=op.f("ck_group_buy_activities_terms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_buy_activities")),
    )
    op.create_index(
        op.f("ix_group_buy_activities_sku_id"), "group_buy_activities", ["sku_id"], unique=False
    )
    op.create_table(
        "group_buy_groups",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("activity_id", sa.UUID(), nullable=False),
        sa.Column("leader_member_id", sa.UUID(), nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
        sa.CheckConstraint(
            "paid_count BETWEEN 0 AND size", name=op.f("ck_group_buy_groups_paid_count")
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["group_buy_activities.id"],
            name=op.f("fk_group_buy_groups_activity_id_group_buy_activities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_buy_groups")),
    )
    op.create_index(
        op.f("ix_group_buy_groups_activity_id"), "group_buy_groups", ["activity_id"], unique=False
    )
    op.create_index(
        "ix_group_buy_groups_open_expiry",
        "group_buy_groups",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'forming')"),
    )
    op.create_table(
        "group_buy_members",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_buy_groups.id"],
            name=op.f("fk_group_buy_members_group_id_group_buy_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_buy_members")),
        sa.UniqueConstraint("order_id", name=op.f("uq_group_buy_members_order_id")),
    )
    op.create_index(
        op.f("ix_group_buy_members_group_id"), "group_buy_members", ["group_id"], unique=False
    )
    op.create_index(
        op.f("ix_group_buy_members_member_id"), "group_buy_members", ["member_id"], unique=False
    )
    op.create_index(
        "ux_group_buy_members_live",
        "group_buy_members",
        ["group_id", "member_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('reserved', 'joined')"),
    )
    op.create_table(
        "bargain_activities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("start_price_fen", sa.Integer(), nullable=False),
        sa.Column("floor_price_fen", sa.Integer(), nullable=False),
        sa.Column("target_helps", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _created(),
        sa.CheckConstraint(
            "floor_price_fen > 0 AND start_price_fen > floor_price_fen"
            " AND target_helps BETWEEN 1 AND 1000 AND duration_s > 0 AND ends_at > starts_at",
            name=op.f("ck_bargain_activities_terms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargain_activities")),
    )
    op.create_index(
        op.f("ix_bargain_activities_sku_id"), "bargain_activities", ["sku_id"], unique=False
    )
    op.create_table(
        "bargains",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("activity_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("start_price_fen", sa.Integer(), nullable=False),
        sa.Column("floor_price_fen", sa.Integer(), nullable=False),
        sa.Column("current_price_fen", sa.Integer(), nullable=False),
        sa.Column("target_helps", sa.Integer(), nullable=False),
        sa.Column("helps_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("order_attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _created(),
        sa.CheckConstraint("current_price_fen >= floor_price_fen", name=op.f("ck_bargains_floor")),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["bargain_activities.id"],
            name=op.f("fk_bargains_activity_id_bargain_activities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargains")),
        sa.UniqueConstraint("order_id", name=op.f("uq_bargains_order_id")),
    )
    op.create_index(op.f("ix_bargains_activity_id"), "bargains", ["activity_id"], unique=False)
    op.create_index(op.f("ix_bargains_member_id"), "bargains", ["member_id"], unique=False)
    op.create_index("ux_bargains_member", "bargains", ["activity_id", "member_id"], unique=True)
    op.create_table(
        "bargain_helps",
        sa.Column("bargain_id", sa.UUID(), nullable=False),
        sa.Column("helper_member_id", sa.UUID(), nullable=False),
        sa.Column("cut_fen", sa.Integer(), nullable=False),
        _created(),
        sa.CheckConstraint("cut_fen > 0", name=op.f("ck_bargain_helps_cut_positive")),
        sa.ForeignKeyConstraint(
            ["bargain_id"], ["bargains.id"], name=op.f("fk_bargain_helps_bargain_id_bargains")
        ),
        sa.PrimaryKeyConstraint("bargain_id", "helper_member_id", name=op.f("pk_bargain_helps")),
    )
    op.create_table(
        "referral_bindings",
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("referrer_id", sa.UUID(), nullable=False),
        sa.Column(
            "bound_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("member_id <> referrer_id", name=op.f("ck_referral_bindings_not_self")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_referral_bindings")),
    )
    op.create_index(
        op.f("ix_referral_bindings_referrer_id"), "referral_bindings", ["referrer_id"], unique=False
    )
    op.create_table(
        "commission_rates",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "scope IN ('product', 'category')", name=op.f("ck_commission_rates_scope")
        ),
        sa.CheckConstraint("rate_bp BETWEEN 0 AND 5000", name=op.f("ck_commission_rates_rate")),
        sa.PrimaryKeyConstraint("scope", "target_id", name=op.f("pk_commission_rates")),
    )
    op.create_table(
        "commission_entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("referrer_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("refund_id", sa.UUID(), nullable=True),
        sa.Column("base_fen", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settlement_id", sa.UUID(), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_entries")),
    )
    op.create_index(
        op.f("ix_commission_entries_referrer_id"),
        "commission_entries",
        ["referrer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_commission_entries_order_id"), "commission_entries", ["order_id"], unique=False
    )
    op.create_index(
        op.f("ix_commission_entries_settlement_id"),
        "commission_entries",
        ["settlement_id"],
        unique=False,
    )
    op.create_index(
        "ux_commission_entries_order",
        "commission_entries",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'commission'"),
    )
    op.create_index(
        "ux_commission_entries_refund",
        "commission_entries",
        ["refund_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'reversal'"),
    )
    op.create_table(
        "commission_settlements",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("referrer_id", sa.UUID(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("settled_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_settlements")),
    )
    op.create_index(
        op.f("ix_commission_settlements_referrer_id"),
        "commission_settlements",
        ["referrer_id"],
        unique=False,
    )
    op.create_table(
        "abandoned_cart_offers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("cart_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("coupon_template_id", sa.String(length=64), nullable=True),
        sa.Column("coupon_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abandoned_cart_offers")),
    )
    op.create_index(
        op.f("ix_abandoned_cart_offers_member_id"),
        "abandoned_cart_offers",
        ["member_id"],
        unique=False,
    )
    op.create_table(
        "abandoned_cart_windows",
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("last_offer_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_abandoned_cart_windows")),
    )


def downgrade() -> None:
    for table in (
        "abandoned_cart_windows",
        "abandoned_cart_offers",
        "commission_settlements",
        "commission_entries",
        "commission_rates",
        "referral_bindings",
        "bargain_helps",
        "bargains",
        "bargain_activities",
        "group_buy_members",
        "group_buy_groups",
        "group_buy_activities",
    ):
        op.drop_table(table)
