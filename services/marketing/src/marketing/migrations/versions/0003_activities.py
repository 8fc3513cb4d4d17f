"""marketing: group-buy, bargain, referral, abandoned cart (reserved slot)

Revision ID: marketing_0003
Revises: marketing_0002

"""

from collections.abc import Sequence

revision: str = "marketing_0003"
down_revision: str | None = "marketing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
