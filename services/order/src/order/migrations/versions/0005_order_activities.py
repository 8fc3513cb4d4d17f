"""order: group-buy, bargain, referral (issue 8, reserved slot)

Revision ID: order_0005
Revises: order_0004

"""

from collections.abc import Sequence

revision: str = "order_0005"
down_revision: str | None = "order_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
