"""Every query on products, SKUs and search terms (writes and staff reads)."""

import uuid

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Brand, Category, Product, SearchTerm, Sku


async def get(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.get(Product, product_id)


async def lock(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.scalar(
        select(Product)
        .where(Product.id == product_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_by_supplier_code(
    session: AsyncSession, supplier_id: str, code: str
) -> Product | None:
    return await session.scalar(
        select(Product)
        .where(Product.supplier_id == supplier_id, Product.supplier_code == code)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def skus_of(session: AsyncSession, product_id: uuid.UUID) -> list[Sku]:
    return list(
        await session.scalars(
            select(Sku)
            .where(Sku.product_id == product_id)
            .order_by(Sku.created_at, Sku.id)
            .execution_options(populate_existing=True)
        )
    )


async def sku(session: AsyncSession, sku_id: uuid.UUID) -> Sku | None:
    return await session.get(Sku, sku_id)


async def skus_by_codes(session: AsyncSession, supplier_id: str, codes: list[str]) -> list[Sku]:
    return list(
        await session.scalars(
            select(Sku).where(Sku.supplier_id == supplier_id, Sku.sku_code.in_(codes))
        )
    )


async def category(session: AsyncSession, category_id: uuid.UUID) -> Category | None:
    return await session.get(Category, category_id)


async def brand(session: AsyncSession, brand_id: uuid.UUID) -> Brand | None:
    return await session.get(Brand, brand_id)


async def refresh_prices(session: AsyncSession, product_id: uuid.UUID) -> None:
    """The product shows its cheapest active SKU's price (0 when it has none)."""
    active = (Sku.product_id == product_id) & Sku.active
    await session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(
            price_fen=func.coalesce(
                select(func.min(Sku.price_fen)).where(active).scalar_subquery(), 0
            ),
            market_price_fen=func.coalesce(
                select(func.min(Sku.market_price_fen)).where(active).scalar_subquery(), 0
            ),
            updated_at=func.now(),
        )
    )


async def add_terms(session: AsyncSession, terms: set[str]) -> None:
    if terms:
        await session.execute(
            pg_insert(SearchTerm)
            .values([{"term": t} for t in sorted(terms)])
            .on_conflict_do_nothing(index_elements=[SearchTerm.term])
        )


async def page(
    session: AsyncSession,
    *,
    status: str | None,
    q: str | None,
    category_id: uuid.UUID | None,
    supplier_id: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Product], int]:
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(Product.status == status)
    if q:
        like = f"%{q.lower()}%"
        where.append(or_(Product.search_text.like(like), Product.supplier_code == q))
    if category_id:
        where.append(
            Product.category_id.in_(
                select(Category.id).where(Category.path.contains([category_id]))
            )
        )
    if supplier_id:
        where.append(Product.supplier_id == supplier_id)
    total = await session.scalar(select(func.count()).select_from(Product).where(*where))
    rows = await session.scalars(
        select(Product)
        .where(*where)
        .order_by(Product.created_at.desc(), Product.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def ids_in(
    session: AsyncSession,
    *,
    brand_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Products of a brand, or of a category and its descendants (to reindex them)."""
    query = select(Product.id).order_by(Product.id)
    if brand_id is not None:
        query = query.where(Product.brand_id == brand_id)
    if category_id is not None:
        query = query.where(
            Product.category_id.in_(
                select(Category.id).where(Category.path.contains([category_id]))
            )
        )
    return list(await session.scalars(query))
