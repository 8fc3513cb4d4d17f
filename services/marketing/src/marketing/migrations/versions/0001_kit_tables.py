"""Kit tables: outbox, inbox, dead letters, probe receipts.

Revision ID: marketing_0001
Revises:
"""

from shared.kit_migrations import create_kit_tables, drop_kit_tables

revision = "marketing_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    drop_kit_tables()
