"""marketing: coupons and promotions (reserved slot)

Revision ID: marketing_0002
Revises: marketing_0001

"""

from collections.abc import Sequence

revision: str = "marketing_0002"
down_revision: str | None = "marketing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
