"""Product rules: SKU specs follow the product's specs, prices and search columns are derived
on every write, and every edit publishes ``catalog.product_changed`` (aggregate: product)."""

import uuid
from collections.abc import Sequence
from typing import Any

from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, Sku
from catalog.products import repository
from catalog.products.errors import (
    ProductNotFound,
    ProductReferenceInvalid,
    SkuCodeTaken,
    SkuNotFound,
    SkuSpecsInvalid,
)
from catalog.products.schemas import (
    ProductCreate,
    ProductRead,
    ProductUpdate,
    SkuCreate,
    SkuFields,
    SkuRead,
    SkuUpdate,
    SpecDef,
    SupplierProductUpsert,
)
from catalog.search.text import index_product, latin_words
from catalog.stock.repository import LedgerRow, add_ledger


def check_specs(specs: Sequence[SpecDef], sku_specs: Sequence[dict[str, str]]) -> None:
    """Each SKU names every spec once with an allowed value; no two SKUs are the same."""
    allowed = {s.name: set(s.values) for s in specs}
    seen: set[tuple[tuple[str, str], ...]] = set()
    for i, given in enumerate(sku_specs):
        if set(given) != set(allowed) or any(v not in allowed[k] for k, v in given.items()):
            raise SkuSpecsInvalid(
                "A SKU's specs must give one allowed value for each of the product's specs.",
                details=[
                    {
                        "sku": i,
                        "specs": given,
                        "allowed": {k: sorted(v) for k, v in allowed.items()},
                    }
                ],
            )
        combo = tuple(sorted(given.items()))
        if combo in seen:
            raise SkuSpecsInvalid("Two SKUs have the same specs.", details=[{"sku": i}])
        seen.add(combo)


def changed(session: AsyncSession, product_id: uuid.UUID) -> None:
    add_event(session, "catalog.product_changed", str(product_id), {"product_id": str(product_id)})


async def _check_refs(
    session: AsyncSession, category_id: uuid.UUID | None, brand_id: uuid.UUID | None
) -> None:
    if category_id is not None and await repository.category(session, category_id) is None:
        raise ProductReferenceInvalid(
            "No such category.", details=[{"category_id": str(category_id)}]
        )
    if brand_id is not None and await repository.brand(session, brand_id) is None:
        raise ProductReferenceInvalid("No such brand.", details=[{"brand_id": str(brand_id)}])


async def reindex(session: AsyncSession, product: Product) -> None:
    """Derive the search columns and add the name's Latin words to the typo dictionary."""
    brand = await repository.brand(session, product.brand_id) if product.brand_id else None
    category = await repository.category(session, product.category_id)
    indexed = index_product(
        product.name,
        brand.name if brand else None,
        category.name if category else None,
        product.subtitle,
    )
    product.search_name = indexed.name
    product.search_text = indexed.text
    product.search_pinyin = indexed.pinyin
    product.search_initials = indexed.initials
    await repository.add_terms(
        session, latin_words(product.name) | (latin_words(brand.name) if brand else set())
    )


async def reindex_many(session: AsyncSession, product_ids: list[uuid.UUID]) -> None:
    for product_id in product_ids:
        product = await repository.lock(session, product_id)
        if product is not None:
            await reindex(session, product)
            changed(session, product_id)
    await session.flush()


def _new_sku(product: Product, fields: SkuFields, code: str | None, stock: int) -> Sku:
    return Sku(
        id=uuid.uuid4(),
        product_id=product.id,
        supplier_id=product.supplier_id,
        sku_code=code,
        specs=fields.specs,
        price_fen=fields.price_fen,
        market_price_fen=fields.market_price_fen,
        barcode=fields.barcode,
        weight_g=fields.weight_g,
        image_url=fields.image_url,
        active=True,
        available=stock,
        reserved=0,
        sold=0,
    )


async def _add_skus(
    session: AsyncSession,
    product: Product,
    skus: list[tuple[SkuFields, str | None, int]],
    actor: str,
) -> None:
    made = [_new_sku(product, fields, code, stock) for fields, code, stock in skus]
    session.add_all(made)
    await session.flush()
    await add_ledger(
        session,
        [
            LedgerRow(s.id, "adjust", s.available, reason="initial", actor=actor)
            for s in made
            if s.available
        ],
    )


async def _finish(session: AsyncSession, product: Product) -> None:
    await reindex(session, product)
    await session.flush()
    await repository.refresh_prices(session, product.id)
    changed(session, product.id)


async def create(session: AsyncSession, body: ProductCreate, *, actor: str) -> Product:
    await _check_refs(session, body.category_id, body.brand_id)
    check_specs(body.specs, [s.specs for s in body.skus])
    codes = [s.sku_code for s in body.skus if s.sku_code]
    if len(codes) != len(set(codes)):
        raise SkuCodeTaken("SKU codes repeat.", details=[{"sku_codes": codes}])
    if (
        body.supplier_id
        and codes
        and await repository.skus_by_codes(session, body.supplier_id, codes)
    ):
        raise SkuCodeTaken("The supplier already uses one of these SKU codes.")
    product = Product(
        id=uuid.uuid4(),
        **body.model_dump(
            include={
                "name",
                "subtitle",
                "description",
                "category_id",
                "brand_id",
                "status",
                "supplier_id",
                "supplier_code",
                "images",
            }
        ),
        specs=[s.model_dump() for s in body.specs],
        price_fen=0,
        market_price_fen=0,
        sales_count=0,
    )
    session.add(product)
    await session.flush()
    await _add_skus(session, product, [(s, s.sku_code, s.stock) for s in body.skus], actor)
    await _finish(session, product)
    return product


async def _lock(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await repository.lock(session, product_id)
    if product is None:
        raise ProductNotFound("No such product.")
    return product


async def update(session: AsyncSession, product_id: uuid.UUID, body: ProductUpdate) -> Product:
    product = await _lock(session, product_id)
    fields = body.model_dump(exclude_unset=True)
    await _check_refs(session, fields.get("category_id"), fields.get("brand_id"))
    if body.specs is not None:
        check_specs(
            body.specs, [s.specs for s in await repository.skus_of(session, product_id) if s.active]
        )
        fields["specs"] = [s.model_dump() for s in body.specs]
    for name in ("name", "category_id", "status"):
        if name in fields and fields[name] is None:
            del fields[name]  # not nullable: null means "leave it"
    for name, value in fields.items():
        setattr(product, name, value)
    await _finish(session, product)
    return product


def _specs_of(product: Product) -> list[SpecDef]:
    return [SpecDef.model_validate(s) for s in product.specs]


async def add_sku(
    session: AsyncSession, product_id: uuid.UUID, body: SkuCreate, *, actor: str
) -> Sku:
    product = await _lock(session, product_id)
    existing = await repository.skus_of(session, product_id)
    check_specs(_specs_of(product), [*(s.specs for s in existing if s.active), body.specs])
    if (
        body.sku_code
        and product.supplier_id
        and await repository.skus_by_codes(session, product.supplier_id, [body.sku_code])
    ):
        raise SkuCodeTaken("The supplier already uses this SKU code.")
    await _add_skus(session, product, [(body, body.sku_code, body.stock)], actor)
    await _finish(session, product)
    return next(s for s in await repository.skus_of(session, product_id) if s.specs == body.specs)


async def update_sku(session: AsyncSession, sku_id: uuid.UUID, body: SkuUpdate) -> Sku:
    found = await repository.sku(session, sku_id)
    if found is None:
        raise SkuNotFound("No such SKU.")
    product = await _lock(session, found.product_id)
    siblings = await repository.skus_of(session, product.id)  # reloads: change them after
    sku = next(s for s in siblings if s.id == sku_id)
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    for name in ("specs", "price_fen", "market_price_fen", "weight_g", "active"):
        if name in fields and fields[name] is None:
            del fields[name]
    for name, value in fields.items():
        setattr(sku, name, value)
    others = [s.specs for s in siblings if s.active and s.id != sku_id]
    if sku.active:
        check_specs(_specs_of(product), [*others, sku.specs])
    await session.flush()
    await _finish(session, product)
    return sku


async def upsert_from_supplier(
    session: AsyncSession, supplier_id: str, code: str, body: SupplierProductUpsert
) -> tuple[Product, bool]:
    """Create or update the supplier's product ``code`` and its SKUs by the supplier's SKU
    codes. SKUs left out are deactivated. Stock of existing SKUs is not touched here."""
    await _check_refs(session, body.category_id, body.brand_id)
    check_specs(body.specs, [s.specs for s in body.skus])
    codes = [s.sku_code for s in body.skus]
    if len(codes) != len(set(codes)):
        raise SkuCodeTaken("SKU codes repeat.", details=[{"sku_codes": codes}])
    product = await repository.lock_by_supplier_code(session, supplier_id, code)
    created = product is None
    if product is None:
        product = Product(
            id=uuid.uuid4(),
            supplier_id=supplier_id,
            supplier_code=code,
            price_fen=0,
            market_price_fen=0,
            sales_count=0,
            specs=[],
            images=[],
        )
        session.add(product)
    for name in ("name", "subtitle", "description", "category_id", "brand_id", "status", "images"):
        setattr(product, name, getattr(body, name))
    product.specs = [s.model_dump() for s in body.specs]
    await session.flush()
    taken = [
        s
        for s in await repository.skus_by_codes(session, supplier_id, codes)
        if s.product_id != product.id
    ]
    if taken:
        raise SkuCodeTaken(
            "These SKU codes belong to another of the supplier's products.",
            details=[{"sku_code": s.sku_code} for s in taken],
        )
    current = {s.sku_code: s for s in await repository.skus_of(session, product.id)}
    new: list[tuple[SkuFields, str | None, int]] = []
    for item in body.skus:
        existing = current.pop(item.sku_code, None)
        if existing is None:
            new.append((item, item.sku_code, item.stock or 0))
            continue
        for name in ("specs", "price_fen", "market_price_fen", "barcode", "weight_g", "image_url"):
            setattr(existing, name, getattr(item, name))
        existing.active = True
    for left_out in current.values():
        left_out.active = False
    await session.flush()
    await _add_skus(session, product, new, f"supplier:{supplier_id}")
    await _finish(session, product)
    return product, created


async def read(session: AsyncSession, product: Product) -> ProductRead:
    skus = await repository.skus_of(session, product.id)
    fresh = await repository.get(session, product.id)
    assert fresh is not None
    await session.refresh(fresh)
    return ProductRead.model_validate(
        {
            **{k: getattr(fresh, k) for k in ProductRead.model_fields if k != "skus"},
            "skus": [SkuRead.model_validate(s) for s in skus],
        }
    )
