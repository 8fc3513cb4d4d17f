"""Every search query, in SQLAlchemy Core (no ORM session on the hot path)."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from catalog.models import Category, Product, SearchTerm, Sku
from catalog.search.schemas import ProductFilters, ProductListItem, SortOrder
from catalog.search.text import pinyin


@dataclass(frozen=True)
class TokenPlan:
    """How one query word may match: its text, and the derived forms to try."""

    text: str
    pinyin: str | None = None  # homophones: the pinyin of a Chinese word
    latin: bool = False  # also as pinyin and as initials
    corrections: tuple[str, ...] = field(default_factory=tuple)  # Latin typos fixed


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


SHORT = 2  # words this long or shorter have no trigram: the grams index serves them


_GRAM_TAGS = {"search_text": "t:", "search_pinyin": "p:", "search_initials": "i:"}


def _contains(column: InstrumentedAttribute[str], value: str) -> ColumnElement[bool]:
    """``column LIKE '%value%'`` in a form an index can answer: pg_trgm for 3 characters or
    more; for shorter words, the ``search_grams`` index (every 1- and 2-character piece,
    migration catalog_0003) with the ``LIKE`` kept as the exact test."""
    like = column.like(_like(value))
    if len(value) > SHORT:
        return like
    gram = literal([_GRAM_TAGS[column.key] + value], type_=ARRAY(Text))
    return and_(like, Product.search_grams.contains(gram))


def _token_match(token: TokenPlan) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """The condition one word must meet, and what it adds to relevance.

    The name is the first part of ``search_text``, so "in the name" needs no condition of
    its own, only a higher score: every form left in the condition has an index."""
    forms: list[tuple[InstrumentedAttribute[str], str, int]] = [
        (Product.search_text, token.text, 20)
    ]
    if token.pinyin:
        forms.append((Product.search_pinyin, token.pinyin, 12))
    if token.latin:
        forms.append((Product.search_pinyin, token.text, 12))
        if len(token.text) >= 2:
            forms.append((Product.search_initials, token.text, 10))
    for fixed in token.corrections:
        forms.append((Product.search_text, fixed, 5))
    condition = or_(*(_contains(column, value) for column, value, _ in forms))
    scored = [(Product.search_name, token.text, 40), *forms]
    score = case(
        *((column.like(_like(value)), literal(points)) for column, value, points in scored),
        else_=literal(0),
    )
    return condition, score


def _filters(f: ProductFilters, tokens: list[TokenPlan]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Product.status == "on_sale"]
    for token in tokens:
        where.append(_token_match(token)[0])
    if f.category_id is not None:
        where.append(
            Product.category_id.in_(
                select(Category.id).where(Category.path.contains([f.category_id]))
            )
        )
    if f.brand_id is not None:
        where.append(Product.brand_id == f.brand_id)
    if f.min_price_fen is not None:
        where.append(Product.price_fen >= f.min_price_fen)
    if f.max_price_fen is not None:
        where.append(Product.price_fen <= f.max_price_fen)
    if f.in_stock:
        where.append(_in_stock())
    return where


def _in_stock() -> ColumnElement[bool]:
    return exists().where(Sku.product_id == Product.id, Sku.active, Sku.available > 0)


def _relevance(query: str, tokens: list[TokenPlan]) -> ColumnElement[int]:
    """The name itself first (as typed, then as read: pinyin, initials), then names that
    start with the query, then names containing it; then each word's best form."""
    spoken = pinyin(query)
    exact = case(
        (Product.search_name == query, literal(1000)),
        (func.split_part(Product.search_pinyin, "|", 1) == spoken, literal(900)),
        (func.split_part(Product.search_initials, "|", 1) == query.replace(" ", ""), literal(800)),
        (Product.search_name.like(_like(query)[1:]), literal(300)),
        (Product.search_name.like(_like(query)), literal(100)),
        else_=literal(0),
    )
    total: ColumnElement[int] = exact
    for token in tokens:
        total = total + _token_match(token)[1]
    return total


def _order(f: ProductFilters, tokens: list[TokenPlan]) -> list[ColumnElement[Any]]:
    newest: list[ColumnElement[Any]] = [Product.created_at.desc(), Product.id.asc()]
    if f.sort is SortOrder.price_asc:
        return [Product.price_fen.asc(), *newest]
    if f.sort is SortOrder.price_desc:
        return [Product.price_fen.desc(), *newest]
    if f.sort is SortOrder.newest:
        return newest
    by_sales: list[ColumnElement[Any]] = [Product.sales_count.desc(), *newest]
    if f.sort is SortOrder.sales or not tokens:
        return by_sales
    return [_relevance(f.q, tokens).desc(), *by_sales]


async def search(
    conn: AsyncConnection,
    f: ProductFilters,
    tokens: list[TokenPlan],
    offset: int,
    limit: int,
) -> tuple[list[ProductListItem], int]:
    # One statement, no subquery: PostgreSQL evaluates the in-stock test (an expensive
    # target) after the sort and limit, so only for the rows of the page.
    page = (
        select(
            Product.id,
            Product.name,
            Product.subtitle,
            Product.images[0].astext.label("image_url"),
            Product.price_fen,
            Product.market_price_fen,
            Product.sales_count,
            Product.category_id,
            Product.brand_id,
            func.count().over().label("total"),
            _in_stock().label("in_stock"),
        )
        .where(and_(*_filters(f, tokens)))
        .order_by(*_order(f, tokens))
        .offset(offset)
        .limit(limit)
    )
    rows = (await conn.execute(page)).all()
    if rows:
        total = int(rows[0].total)
    elif offset == 0:
        total = 0
    else:
        total = int(
            await conn.scalar(
                select(func.count()).select_from(Product).where(and_(*_filters(f, tokens)))
            )
            or 0
        )
    items = [
        ProductListItem(
            id=r.id,
            name=r.name,
            subtitle=r.subtitle,
            image_url=r.image_url,
            price_fen=r.price_fen,
            market_price_fen=r.market_price_fen,
            sales_count=r.sales_count,
            category_id=r.category_id,
            brand_id=r.brand_id,
            in_stock=r.in_stock,
        )
        for r in rows
    ]
    return items, total


async def corrections(conn: AsyncConnection, word: str, budget: int) -> tuple[str, ...]:
    """Known Latin words within ``budget`` edits of ``word``; none when it is known as is."""
    distance = func.levenshtein_less_equal(SearchTerm.term, word, budget, type_=Integer)
    rows = (
        await conn.execute(
            select(SearchTerm.term, distance.label("d"))
            .where(
                func.length(SearchTerm.term).between(len(word) - budget, len(word) + budget),
                distance <= budget,
            )
            .order_by("d", SearchTerm.term)
            .limit(5)
        )
    ).all()
    if any(r.d == 0 for r in rows):
        return ()
    return tuple(r.term for r in rows)
