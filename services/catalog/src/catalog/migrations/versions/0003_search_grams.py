"""Search: 1- and 2-character words get an index too.

pg_trgm can serve ``LIKE '%w%'`` only when ``w`` has 3 characters or more, so a search for
手机, 法式 or ``sj`` read every product. ``search_grams`` (generated, stored) holds every
single character and character pair of ``search_text``, ``search_pinyin`` and
``search_initials``, tagged ``t:``, ``p:``, ``i:``; its GIN index answers "contains this 1-
or 2-character word" (the query keeps its ``LIKE`` as the exact test).

Revision ID: catalog_0003
Revises: catalog_0002
"""

from alembic import op

revision = "catalog_0003"
down_revision = "catalog_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION catalog_grams(tag text, value text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT coalesce(array_agg(DISTINCT tag || gram), '{}')
            FROM (
                SELECT substr(value, i, 1) AS gram FROM generate_series(1, length(value)) AS i
                UNION ALL
                SELECT substr(value, i, 2) FROM generate_series(1, length(value) - 1) AS i
            ) AS grams
        $$
        """
    )
    op.execute(
        """
        ALTER TABLE products ADD COLUMN search_grams text[] GENERATED ALWAYS AS (
            catalog_grams('t:', search_text)
            || catalog_grams('p:', search_pinyin)
            || catalog_grams('i:', search_initials)
        ) STORED
        """
    )
    op.execute("CREATE INDEX ix_products_search_grams ON products USING gin (search_grams)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_products_search_grams")
    op.execute("ALTER TABLE products DROP COLUMN search_grams")
    op.execute("DROP FUNCTION catalog_grams(text, text)")
