"""Brand rules: names are unique; a rename reindexes and announces the brand's products."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.brands import repository
from catalog.brands.errors import BrandNameTaken, BrandNotFound
from catalog.brands.schemas import BrandCreate, BrandUpdate
from catalog.models import Brand
from catalog.products import repository as products_repository
from catalog.products.service import reindex_many


async def create(session: AsyncSession, body: BrandCreate) -> Brand:
    if await repository.by_name(session, body.name) is not None:
        raise BrandNameTaken("A brand has this name.")
    brand = Brand(id=uuid.uuid4(), name=body.name, logo_url=body.logo_url)
    session.add(brand)
    await session.flush()
    return brand


async def update(session: AsyncSession, brand_id: uuid.UUID, body: BrandUpdate) -> Brand:
    brand = await repository.lock(session, brand_id)
    if brand is None:
        raise BrandNotFound("No such brand.")
    renamed = body.name is not None and body.name != brand.name
    if renamed and body.name is not None:
        if await repository.by_name(session, body.name) is not None:
            raise BrandNameTaken("A brand has this name.")
        brand.name = body.name
    if "logo_url" in body.model_fields_set:
        brand.logo_url = body.logo_url
    await session.flush()
    if renamed:
        await reindex_many(session, await products_repository.ids_in(session, brand_id=brand_id))
    return brand
