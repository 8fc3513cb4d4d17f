"""order: group-buy orders wait for their group (issue 8)

Revision ID: order_0005
Revises: order_0004

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "order_0005"
down_revision: str | None = "order_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("awaiting_group", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("orders", "awaiting_group")
