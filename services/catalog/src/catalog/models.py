"""Tables of the catalog service (its own database). Kit tables live in ``shared``.

Stock lives on ``skus`` as three counters, each never negative (CHECK constraints):
``available`` (can be reserved), ``reserved`` (held for orders) and ``sold`` (committed).
Every change to them is one ``stock_ledger`` row carrying the three deltas, so at all times
``sum(ledger deltas) = (available, reserved, sold)`` and
``initial + adjustments = available + reserved + sold``.
"""

import uuid
from datetime import datetime
from typing import Any

from shared.db import new_metadata
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PRODUCT_STATUSES = ("draft", "on_sale", "off_shelf")
RESERVATION_STATUSES = ("reserved", "committed", "released")


class Base(DeclarativeBase):
    metadata = new_metadata()


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _id_column() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = _id_column()
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    # The category's ancestors and itself, root first: descendants of X have X in their path.
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    name: Mapped[str] = mapped_column(String(64))
    icon_url: Mapped[str | None] = mapped_column(String(512))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (Index("ix_categories_path", "path", postgresql_using="gin"),)


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[uuid.UUID] = _id_column()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    logo_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


# GIN pending lists (scanned in full by every search) kept short: catalog_0004.
_SHORT_PENDING_LIST = {"gin_pending_list_limit": 128}


class Product(Base):
    """An SPU. ``price_fen`` / ``market_price_fen`` are its lowest active SKU's, kept on write
    for listing, filtering and sorting. ``search_*`` columns are derived on write."""

    __tablename__ = "products"

    id: Mapped[uuid.UUID] = _id_column()
    name: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    brand_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("brands.id", ondelete="RESTRICT"), index=True
    )
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    supplier_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # [{"name": "颜色", "values": ["红", "蓝"]}, ...]
    specs: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    images: Mapped[list[str]] = mapped_column(JSONB, default=list)
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    market_price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    sales_count: Mapped[int] = mapped_column(BigInteger, default=0)
    search_name: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_pinyin: Mapped[str] = mapped_column(Text, default="")
    search_initials: Mapped[str] = mapped_column(Text, default="")
    # Every 1- and 2-character piece of the three above, tagged t: p: i: (catalog_0003):
    # indexes the words too short for pg_trgm. Computed by PostgreSQL, never written.
    search_grams: Mapped[list[str]] = mapped_column(
        ARRAY(Text),
        Computed(
            "catalog_grams('t:', search_text) || catalog_grams('p:', search_pinyin)"
            " || catalog_grams('i:', search_initials)",
            persisted=True,
        ),
        deferred=True,
    )
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'on_sale', 'off_shelf')", name="status_known"),
        CheckConstraint("price_fen >= 0 AND market_price_fen >= 0", name="prices_non_negative"),
        CheckConstraint("sales_count >= 0", name="sales_count_non_negative"),
        Index(
            "uq_products_supplier_code",
            "supplier_id",
            "supplier_code",
            unique=True,
            postgresql_where=text("supplier_code IS NOT NULL"),
        ),
        Index("ix_products_status_created", "status", "created_at"),
        Index(
            "ix_products_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            postgresql_with=_SHORT_PENDING_LIST,
        ),
        Index(
            "ix_products_search_pinyin",
            "search_pinyin",
            postgresql_using="gin",
            postgresql_ops={"search_pinyin": "gin_trgm_ops"},
            postgresql_with=_SHORT_PENDING_LIST,
        ),
        Index(
            "ix_products_search_initials",
            "search_initials",
            postgresql_using="gin",
            postgresql_ops={"search_initials": "gin_trgm_ops"},
            postgresql_with=_SHORT_PENDING_LIST,
        ),
    )


class Sku(Base):
    __tablename__ = "skus"

    id: Mapped[uuid.UUID] = _id_column()
    product_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    supplier_id: Mapped[str | None] = mapped_column(String(64))  # the product's, for uniqueness
    sku_code: Mapped[str | None] = mapped_column(String(64))
    specs: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    market_price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    barcode: Mapped[str | None] = mapped_column(String(64))
    weight_g: Mapped[int] = mapped_column(Integer, default=0)
    image_url: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    sold: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("available >= 0", name="available_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("sold >= 0", name="sold_non_negative"),
        CheckConstraint("price_fen >= 0 AND market_price_fen >= 0", name="prices_non_negative"),
        CheckConstraint("weight_g >= 0", name="weight_non_negative"),
        Index(
            "uq_skus_supplier_code",
            "supplier_id",
            "sku_code",
            unique=True,
            postgresql_where=text("sku_code IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
    )


class Reservation(Base):
    """Stock held for one caller key (an order id). ``items`` is normalised: one entry per SKU,
    sorted by ``sku_id``, so the same request always compares equal."""

    __tablename__ = "stock_reservations"

    id: Mapped[uuid.UUID] = _id_column()
    reservation_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'committed', 'released')", name="status_known"),
        Index(
            "ix_stock_reservations_due",
            "expires_at",
            postgresql_where=text("status = 'reserved'"),
        ),
    )


class StockLedgerEntry(Base):
    """One stock movement of one SKU. ``kind``: adjust, reserve, commit, release."""

    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sku_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("skus.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(16))
    delta_available: Mapped[int] = mapped_column(BigInteger, default=0)
    delta_reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    delta_sold: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(200), default="")
    # The reservation key, or an adjustment's idempotency key.
    reference: Mapped[str | None] = mapped_column(String(160))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("kind IN ('adjust', 'reserve', 'commit', 'release')", name="kind_known"),
        Index("ix_stock_ledger_sku", "sku_id", "id"),
        Index(
            "uq_stock_ledger_adjust_reference",
            "sku_id",
            "reference",
            unique=True,
            postgresql_where=text("kind = 'adjust' AND reference IS NOT NULL"),
        ),
    )


class SearchTerm(Base):
    """Latin words seen in product and brand names: the dictionary typo correction uses."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
