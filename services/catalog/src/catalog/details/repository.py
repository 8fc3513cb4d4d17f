"""The detail's queries, in SQLAlchemy Core on a plain connection (no ORM session)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from catalog.models import Brand, Category, Product, Sku


async def product_doc(conn: AsyncConnection, product_id: uuid.UUID) -> dict[str, Any] | None:
    """Everything but stock and sales, as JSON-ready values; None if unknown or a draft."""
    row = (
        await conn.execute(
            select(
                Product.id,
                Product.name,
                Product.subtitle,
                Product.description,
                Product.status,
                Product.category_id,
                Category.path,
                Brand.id.label("brand_id"),
                Brand.name.label("brand_name"),
                Product.images,
                Product.specs,
                Product.price_fen,
                Product.market_price_fen,
            )
            .join(Category, Category.id == Product.category_id)
            .outerjoin(Brand, Brand.id == Product.brand_id)
            .where(Product.id == product_id, Product.status != "draft")
        )
    ).first()
    if row is None:
        return None
    skus = await conn.execute(
        select(Sku.id, Sku.specs, Sku.price_fen, Sku.market_price_fen, Sku.image_url, Sku.weight_g)
        .where(Sku.product_id == product_id, Sku.active)
        .order_by(Sku.created_at, Sku.id)
    )
    images: list[str] = list(row.images or [])
    return {
        "id": str(row.id),
        "name": row.name,
        "subtitle": row.subtitle,
        "description": row.description,
        "status": row.status,
        "category_id": str(row.category_id),
        "category_path": [str(c) for c in row.path],
        "brand": {"id": str(row.brand_id), "name": row.brand_name} if row.brand_id else None,
        "images": images,
        "image_url": images[0] if images else None,
        "specs": row.specs,
        "price_fen": row.price_fen,
        "market_price_fen": row.market_price_fen,
        "skus": [
            {
                "id": str(s.id),
                "specs": s.specs,
                "price_fen": s.price_fen,
                "market_price_fen": s.market_price_fen,
                "image_url": s.image_url,
                "weight_g": s.weight_g,
            }
            for s in skus
        ],
    }


async def stock(conn: AsyncConnection, product_id: uuid.UUID) -> tuple[int, dict[str, int]]:
    """The product's sales count and each active SKU's available stock."""
    rows = (
        await conn.execute(
            select(Sku.id, Sku.available, Product.sales_count)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.product_id == product_id, Sku.active)
        )
    ).all()
    sales = int(rows[0].sales_count) if rows else 0
    return sales, {str(r.id): int(r.available) for r in rows}


async def stocks(
    conn: AsyncConnection, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, dict[str, int]]]:
    """``stock`` of many products in one query (products without active SKUs are absent)."""
    rows = (
        await conn.execute(
            select(Sku.product_id, Sku.id, Sku.available, Product.sales_count)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.product_id.in_(product_ids), Sku.active)
        )
    ).all()
    found: dict[uuid.UUID, tuple[int, dict[str, int]]] = {}
    for r in rows:
        entry = found.get(r.product_id)
        if entry is None:
            entry = found[r.product_id] = (int(r.sales_count), {})
        entry[1][str(r.id)] = int(r.available)
    return found
