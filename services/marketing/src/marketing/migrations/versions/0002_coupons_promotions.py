"""marketing: coupons and promotions

Revision ID: marketing_0002
Revises: marketing_0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "marketing_0002"
down_revision: str | None = "marketing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "coupon_templates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("off_fen", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("max_off_fen", sa.Integer(), nullable=True),
        sa.Column("min_spend_fen", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("validity", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("claim_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_quantity", sa.Integer(), nullable=True),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("claimable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *_times(),
        sa.CheckConstraint(
            "kind IN ('fixed', 'threshold', 'percent')", name=op.f("ck_coupon_templates_kind")
        ),
        sa.CheckConstraint(
            "off_fen >= 0 AND min_spend_fen >= 0 AND rate_bp BETWEEN 1 AND 10000"
            " AND (max_off_fen IS NULL OR max_off_fen > 0)",
            name=op.f("ck_coupon_templates_terms"),
        ),
        sa.CheckConstraint(
            "total_quantity IS NULL OR issued_count <= total_quantity",
            name=op.f("ck_coupon_templates_quantity"),
        ),
        sa.CheckConstraint(
            "issued_count >= 0 AND used_count >= 0", name=op.f("ck_coupon_templates_counts")
        ),
        sa.CheckConstraint(
            "per_member_limit >= 1", name=op.f("ck_coupon_templates_per_member_limit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_templates")),
    )
    op.create_table(
        "coupon_claims",
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.CheckConstraint("claimed >= 0", name=op.f("ck_coupon_claims_claimed")),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["coupon_templates.id"],
            name=op.f("fk_coupon_claims_template_id_coupon_templates"),
        ),
        sa.PrimaryKeyConstraint("template_id", "member_id", name=op.f("pk_coupon_claims")),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("discount_fen", sa.Integer(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lock_confirmed", sa.Boolean(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_count", sa.Integer(), nullable=False),
        *_times(),
        sa.CheckConstraint(
            "status IN ('available', 'locked', 'used', 'expired', 'revoked')",
            name=op.f("ck_coupons_status"),
        ),
        sa.CheckConstraint(
            "(status IN ('locked', 'used')) = (order_id IS NOT NULL)",
            name=op.f("ck_coupons_order_when_held"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["coupon_templates.id"],
            name=op.f("fk_coupons_template_id_coupon_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )
    op.create_index(op.f("ix_coupons_template_id"), "coupons", ["template_id"], unique=False)
    op.create_index("ix_coupons_member_status", "coupons", ["member_id", "status"], unique=False)
    op.create_index(
        "ux_coupons_order",
        "coupons",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('locked', 'used')"),
    )
    op.create_index(
        "ix_coupons_available_until",
        "coupons",
        ["valid_until"],
        unique=False,
        postgresql_where=sa.text("status = 'available'"),
    )
    op.create_index(
        "ix_coupons_unconfirmed_locks",
        "coupons",
        ["locked_at"],
        unique=False,
        postgresql_where=sa.text("status = 'locked' AND NOT lock_confirmed"),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *_times(),
        sa.CheckConstraint(
            "kind IN ('limited_time', 'member_price', 'full_reduction', 'full_discount')",
            name=op.f("ck_promotions_kind"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_promotions_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index(
        "ix_promotions_running",
        "promotions",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("ix_promotions_running", table_name="promotions")
    op.drop_table("promotions")
    op.drop_index("ix_coupons_unconfirmed_locks", table_name="coupons")
    op.drop_index("ix_coupons_available_until", table_name="coupons")
    op.drop_index("ux_coupons_order", table_name="coupons")
    op.drop_index("ix_coupons_member_status", table_name="coupons")
    op.drop_index(op.f("ix_coupons_template_id"), table_name="coupons")
    op.drop_table("coupons")
    op.drop_table("coupon_claims")
    op.drop_table("coupon_templates")
