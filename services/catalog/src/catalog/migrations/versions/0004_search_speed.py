"""Search: short GIN pending lists on the search indexes.

A GIN index takes new entries into an unsorted pending list (``fastupdate``) that every
search scans in full until VACUUM or an overflowing insert moves it into the index proper.
The default limit is 4 MB: over the bench's 10,000 freshly loaded products the lists held
~1,000 pages and a search's execution took 3.4 ms instead of 0.5 ms (EXPLAIN ANALYZE, mean
of 130 queries). Every non-HOT update of a product (a sale bumping ``sales_count`` on a
full page) adds entries too. With a 128 kB limit a search scans at most 16 pending pages,
while writes still merge in batches.

Revision ID: catalog_0004
Revises: catalog_0003
"""

from alembic import op

revision = "catalog_0004"
down_revision = "catalog_0003"
branch_labels = None
depends_on = None

PENDING_LIST_KB = 128
INDEXES = (
    "ix_products_search_text",
    "ix_products_search_pinyin",
    "ix_products_search_initials",
    "ix_products_search_grams",
)


def upgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = {PENDING_LIST_KB})")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
