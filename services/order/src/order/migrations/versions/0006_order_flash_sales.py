"""order: flash sales (issue 9, reserved slot)

Revision ID: order_0006
Revises: order_0005

"""

from collections.abc import Sequence

revision: str = "order_0006"
down_revision: str | None = "order_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
