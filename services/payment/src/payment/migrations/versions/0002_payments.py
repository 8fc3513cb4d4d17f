"""payments, refunds, reconciliations

Revision ID: payment_0002
Revises: payment_0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "payment_0002"
down_revision: str | None = "payment_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _created(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=127), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payer_openid", sa.String(length=128), nullable=True),
        sa.Column("prepay_id", sa.String(length=64), nullable=True),
        _ts("prepay_expires_at"),
        _ts("time_expire_at"),
        _ts("prepaid_at"),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        _ts("paid_at"),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        _ts("order_cancelled_at"),
        _ts("closed_at"),
        _ts("last_queried_at"),
        _created("created_at"),
        _created("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payments_order_id")),
        sa.UniqueConstraint("out_trade_no", name=op.f("uq_payments_out_trade_no")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_payments_transaction_id")),
    )
    op.create_index(
        "ix_payments_pending",
        "payments",
        ["prepaid_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_payments_paid_at", "payments", ["paid_at"], unique=False)
    op.create_table(
        "refunds",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("refund_id", sa.UUID(), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wechat_refund_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("submitted_at"),
        _ts("last_queried_at"),
        _ts("succeeded_at"),
        _created("created_at"),
        _created("updated_at"),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_refunds_refund_id")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_refunds_out_refund_no")),
    )
    op.create_index(op.f("ix_refunds_order_id"), "refunds", ["order_id"], unique=False)
    op.create_index(
        "ix_refunds_open",
        "refunds",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('requested', 'processing')"),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("bill_date", sa.Date(), nullable=False),
        sa.Column("run_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wechat_count", sa.Integer(), nullable=False),
        sa.Column("wechat_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("our_count", sa.Integer(), nullable=False),
        sa.Column("our_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("differences", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _created("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(
        "ix_reconciliations_created_at", "reconciliations", ["created_at"], unique=False
    )
    op.create_index(
        "uq_reconciliations_daily",
        "reconciliations",
        ["bill_date"],
        unique=True,
        postgresql_where=sa.text("run_by = 'system'"),
    )


def downgrade() -> None:
    op.drop_table("reconciliations")
    op.drop_table("refunds")
    op.drop_table("payments")
