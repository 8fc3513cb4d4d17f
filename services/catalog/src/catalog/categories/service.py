"""Category rules: ``path`` is the category's ancestors and itself, root first; a move
rewrites the paths of its subtree; products under a renamed or moved category are
reindexed and announced (their detail shows the category path)."""

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories import repository
from catalog.categories.errors import CategoryCycle, CategoryNotEmpty, CategoryNotFound
from catalog.categories.schemas import CategoryCreate, CategoryNode, CategoryUpdate
from catalog.models import Category
from catalog.products import repository as products_repository
from catalog.products.service import reindex_many


def build_tree(categories: list[Category]) -> list[CategoryNode]:
    """Nodes in the given order (sort_order, name), children under their parents."""
    children: dict[uuid.UUID | None, list[Category]] = defaultdict(list)
    for c in categories:
        children[c.parent_id].append(c)

    def node(c: Category) -> CategoryNode:
        return CategoryNode(
            id=c.id,
            name=c.name,
            icon_url=c.icon_url,
            sort_order=c.sort_order,
            children=[node(k) for k in children[c.id]],
        )

    return [node(c) for c in children[None]]


async def _parent_path(session: AsyncSession, parent_id: uuid.UUID | None) -> list[uuid.UUID]:
    if parent_id is None:
        return []
    parent = await repository.get(session, parent_id)
    if parent is None:
        raise CategoryNotFound("No such parent category.")
    return list(parent.path)


async def create(session: AsyncSession, body: CategoryCreate) -> Category:
    category_id = uuid.uuid4()
    category = Category(
        id=category_id,
        parent_id=body.parent_id,
        path=[*await _parent_path(session, body.parent_id), category_id],
        name=body.name,
        icon_url=body.icon_url,
        sort_order=body.sort_order,
    )
    session.add(category)
    await session.flush()
    return category


async def update(session: AsyncSession, category_id: uuid.UUID, body: CategoryUpdate) -> Category:
    category = await repository.lock(session, category_id)
    if category is None:
        raise CategoryNotFound("No such category.")
    fields = body.model_dump(exclude_unset=True)
    renamed = "name" in fields and fields["name"] not in (None, category.name)
    moved = "parent_id" in fields and fields["parent_id"] != category.parent_id
    if fields.get("name") is not None:
        category.name = fields["name"]
    if "icon_url" in fields:
        category.icon_url = fields["icon_url"]
    if fields.get("sort_order") is not None:
        category.sort_order = fields["sort_order"]
    if moved:
        new_parent = fields["parent_id"]
        parent_path = await _parent_path(session, new_parent)
        if category_id in parent_path:
            raise CategoryCycle("A category cannot move under itself.")
        old_depth = len(category.path)
        category.parent_id = new_parent
        await session.flush()
        await repository.move_subtree(session, category_id, [*parent_path, category_id], old_depth)
        await session.refresh(category)
    await session.flush()
    if renamed or moved:
        await reindex_many(
            session, await products_repository.ids_in(session, category_id=category_id)
        )
    return category


async def delete(session: AsyncSession, category_id: uuid.UUID) -> None:
    category = await repository.lock(session, category_id)
    if category is None:
        raise CategoryNotFound("No such category.")
    if not await repository.is_empty(session, category_id):
        raise CategoryNotEmpty("The category still has subcategories or products.")
    await session.delete(category)
    await session.flush()
