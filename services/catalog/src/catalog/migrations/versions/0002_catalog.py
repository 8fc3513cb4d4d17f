"""Categories, brands, products, SKUs with stock, reservations, the stock ledger, search terms.

Revision ID: catalog_0002
Revises: catalog_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.create_table(
        "categories",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("path", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("icon_url", sa.String(512), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["categories.id"],
            name="fk_categories_parent_id_categories",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
    )
    op.create_index("ix_categories_parent_id", "categories", ["parent_id"])
    op.create_index("ix_categories_path", "categories", ["path"], postgresql_using="gin")
    op.create_table(
        "brands",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("logo_url", sa.String(512), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_brands"),
        sa.UniqueConstraint("name", name="uq_brands_name"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("subtitle", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=True),
        sa.Column("supplier_id", sa.String(64), nullable=True),
        sa.Column("supplier_code", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("specs", postgresql.JSONB(), nullable=False),
        sa.Column("images", postgresql.JSONB(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("market_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("sales_count", sa.BigInteger(), nullable=False),
        sa.Column("search_name", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("search_pinyin", sa.Text(), nullable=False),
        sa.Column("search_initials", sa.Text(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('draft', 'on_sale', 'off_shelf')", name="ck_products_status_known"
        ),
        sa.CheckConstraint(
            "price_fen >= 0 AND market_price_fen >= 0", name="ck_products_prices_non_negative"
        ),
        sa.CheckConstraint("sales_count >= 0", name="ck_products_sales_count_non_negative"),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name="fk_products_category_id_categories",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name="fk_products_brand_id_brands", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
    )
    op.create_index("ix_products_category_id", "products", ["category_id"])
    op.create_index("ix_products_brand_id", "products", ["brand_id"])
    op.create_index("ix_products_status_created", "products", ["status", "created_at"])
    op.create_index(
        "uq_products_supplier_code",
        "products",
        ["supplier_id", "supplier_code"],
        unique=True,
        postgresql_where=sa.text("supplier_code IS NOT NULL"),
    )
    for column in ("search_text", "search_pinyin", "search_initials"):
        op.create_index(
            f"ix_products_{column}",
            "products",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )
    op.create_table(
        "skus",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("supplier_id", sa.String(64), nullable=True),
        sa.Column("sku_code", sa.String(64), nullable=True),
        sa.Column("specs", postgresql.JSONB(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("market_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("barcode", sa.String(64), nullable=True),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.String(512), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("sold", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("available >= 0", name="ck_skus_available_non_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_skus_reserved_non_negative"),
        sa.CheckConstraint("sold >= 0", name="ck_skus_sold_non_negative"),
        sa.CheckConstraint(
            "price_fen >= 0 AND market_price_fen >= 0", name="ck_skus_prices_non_negative"
        ),
        sa.CheckConstraint("weight_g >= 0", name="ck_skus_weight_non_negative"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_skus_product_id_products", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_skus"),
    )
    op.create_index("ix_skus_product_id", "skus", ["product_id"])
    op.create_index(
        "uq_skus_supplier_code",
        "skus",
        ["supplier_id", "sku_code"],
        unique=True,
        postgresql_where=sa.text("sku_code IS NOT NULL"),
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("reservation_key", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items", postgresql.JSONB(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(32), nullable=True),
        sa.CheckConstraint(
            "status IN ('reserved', 'committed', 'released')",
            name="ck_stock_reservations_status_known",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservations"),
        sa.UniqueConstraint("reservation_key", name="uq_stock_reservations_reservation_key"),
    )
    op.create_index(
        "ix_stock_reservations_due",
        "stock_reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'reserved'"),
    )
    op.create_table(
        "stock_ledger",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sku_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delta_available", sa.BigInteger(), nullable=False),
        sa.Column("delta_reserved", sa.BigInteger(), nullable=False),
        sa.Column("delta_sold", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(160), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('adjust', 'reserve', 'commit', 'release')", name="ck_stock_ledger_kind_known"
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name="fk_stock_ledger_sku_id_skus", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stock_ledger"),
    )
    op.create_index("ix_stock_ledger_sku", "stock_ledger", ["sku_id", "id"])
    op.create_index(
        "uq_stock_ledger_adjust_reference",
        "stock_ledger",
        ["sku_id", "reference"],
        unique=True,
        postgresql_where=sa.text("kind = 'adjust' AND reference IS NOT NULL"),
    )
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_search_terms"),
    )


def downgrade() -> None:
    for table in (
        "search_terms",
        "stock_ledger",
        "stock_reservations",
        "skus",
        "products",
        "brands",
        "categories",
    ):
        op.drop_table(table)
