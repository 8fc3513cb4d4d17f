"""Every query on categories."""

import uuid

from sqlalchemy import exists, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Category, Product


async def all_ordered(session: AsyncSession) -> list[Category]:
    return list(
        await session.scalars(select(Category).order_by(Category.sort_order, Category.name))
    )


async def get(session: AsyncSession, category_id: uuid.UUID) -> Category | None:
    return await session.get(Category, category_id)


async def lock(session: AsyncSession, category_id: uuid.UUID) -> Category | None:
    return await session.scalar(
        select(Category).where(Category.id == category_id).with_for_update()
    )


async def move_subtree(
    session: AsyncSession, category_id: uuid.UUID, new_path: list[uuid.UUID], old_depth: int
) -> None:
    """Every category under ``category_id`` (and itself) gets ``new_path`` as its prefix."""
    await session.execute(
        update(Category)
        .where(Category.path.contains([category_id]))
        .values(
            path=func.array_cat(
                literal(new_path, type_=ARRAY(UUID(as_uuid=True))),
                text(f"path[{int(old_depth) + 1}:]"),
            ),
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )


async def is_empty(session: AsyncSession, category_id: uuid.UUID) -> bool:
    children = await session.scalar(select(exists().where(Category.parent_id == category_id)))
    products = await session.scalar(select(exists().where(Product.category_id == category_id)))
    return not children and not products
