"""marketing: flash sales (reserved slot)

Revision ID: marketing_0004
Revises: marketing_0003

"""

from collections.abc import Sequence

revision: str = "marketing_0004"
down_revision: str | None = "marketing_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
