"""marketing: flash sales (reserved slot)

Revision ID: marketing_0004
Revises: marketing_0003

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "marketing_0004"
down_revision: str | None = "marketing_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("total_units", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_window_s", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load_error", sa.Text(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND total_units > 0 AND per_member_limit >= 1"
            " AND payment_window_s > 0 AND ends_at > starts_at",
            name=op.f("ck_flash_sales_terms"),
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled')", name=op.f("ck_flash_sales_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )
    op.create_index(op.f("ix_flash_sales_sku_id"), "flash_sales", ["sku_id"], unique=False)
    op.create_index(
        "ix_flash_sales_open",
        "flash_sales",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("settled_at IS NULL"),
    )
    op.create_table(
        "flash_sale_tickets",
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("slots", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("address_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'ordered', 'rejected')",
            name=op.f("ck_flash_sale_tickets_status"),
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_flash_sale_tickets_quantity")),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_sale_tickets_sale_id_flash_sales"),
        ),
        sa.PrimaryKeyConstraint("ticket", name=op.f("pk_flash_sale_tickets")),
        sa.UniqueConstraint("order_id", name=op.f("uq_flash_sale_tickets_order_id")),
    )
    op.create_index(
        op.f("ix_flash_sale_tickets_sale_id"), "flash_sale_tickets", ["sale_id"], unique=False
    )
    op.create_index(
        "ix_flash_sale_tickets_member",
        "flash_sale_tickets",
        ["sale_id", "member_id"],
        unique=False,
    )
    op.create_index(
        "ix_flash_sale_tickets_queued",
        "flash_sale_tickets",
        ["recorded_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_flash_sale_tickets_queued",
        table_name="flash_sale_tickets",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.drop_index("ix_flash_sale_tickets_member", table_name="flash_sale_tickets")
    op.drop_index(op.f("ix_flash_sale_tickets_sale_id"), table_name="flash_sale_tickets")
    op.drop_table("flash_sale_tickets")
    op.drop_index(
        "ix_flash_sales_open",
        table_name="flash_sales",
        postgresql_where=sa.text("settled_at IS NULL"),
    )
    op.drop_index(op.f("ix_flash_sales_sku_id"), table_name="flash_sales")
    op.drop_table("flash_sales")
