"""order: coupons and promotions (issue 8, reserved slot)

Revision ID: order_0004
Revises: order_0003

"""

from collections.abc import Sequence

revision: str = "order_0004"
down_revision: str | None = "order_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
