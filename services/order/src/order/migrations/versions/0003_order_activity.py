"""order: coupon and marketing-activity columns

Revision ID: order_0003
Revises: order_0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "order_0003"
down_revision: str | None = "order_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("coupon_id", sa.UUID(), nullable=True))
    op.add_column("orders", sa.Column("activity_kind", sa.String(length=16), nullable=True))
    op.add_column("orders", sa.Column("activity_ref", sa.String(length=64), nullable=True))
    op.create_index("ux_orders_activity", "orders", ["activity_kind", "activity_ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_orders_activity", table_name="orders")
    op.drop_column("orders", "activity_ref")
    op.drop_column("orders", "activity_kind")
    op.drop_column("orders", "coupon_id")
