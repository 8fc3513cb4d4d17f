"""Every search query, as hand-written SQL per query shape, run on asyncpg.

A profile of the SQLAlchemy version showed ~3 ms of Python per query (building and
compiling the expression, pre-ping, result rows, pydantic) against ~1-2 ms of PostgreSQL.
Here a query is a string put together from a few fixed pieces, with every value a bind
parameter: one shape (words, forms, filters, sort) is one SQL text, prepared once per
connection by asyncpg and planned with its values each time (``plan_cache_mode`` is
``force_custom_plan`` on the search pool, see ``search.pool``).

Plans over 10,000 products (EXPLAIN ANALYZE, ``docs/catalog.md``):
- each word's forms are a ``BitmapOr`` of trigram (3 characters or more) and
  ``search_grams`` (shorter) index scans; the ``LIKE`` tests are repeated only as a filter,
  so the grams array (≈90 elements a row) is never re-read per row;
- the page is chosen on the product ids and sort keys only; the shown columns and the
  in-stock flag are read for the page's rows alone (20 index probes), not for every match;
- the in-stock filter is a nested-loop semi join on ``ix_skus_product_id``.
"""

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from catalog.search.schemas import ProductFilters, SortOrder
from catalog.search.text import query_pinyin

SHORT = 2  # words this long or shorter have no trigram: the grams index serves them

_GRAM_TAGS = {"search_text": "t:", "search_pinyin": "p:", "search_initials": "i:"}
_IN_STOCK = "EXISTS (SELECT FROM skus s WHERE s.product_id = p.id AND s.active AND s.available > 0)"


@dataclass(frozen=True)
class TokenPlan:
    """How one query word may match: its text, and the derived forms to try."""

    text: str
    pinyin: str | None = None  # homophones: the pinyin of a Chinese word
    latin: bool = False  # also as pinyin and as initials
    corrections: tuple[str, ...] = field(default_factory=tuple)  # Latin typos fixed

    def forms(self) -> list[tuple[str, str, int]]:
        """``(column, value, points)``: every form the word may match in, best first."""
        forms = [("search_text", self.text, 20)]
        if self.pinyin:
            forms.append(("search_pinyin", self.pinyin, 12))
        if self.latin:
            forms.append(("search_pinyin", self.text, 12))
            if len(self.text) >= 2:
                forms.append(("search_initials", self.text, 10))
        forms.extend(("search_text", fixed, 5) for fixed in self.corrections)
        return forms


def like_pattern(value: str) -> str:
    return "%" + escape_like(value) + "%"


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Params:
    """Bind parameters: ``$n`` per distinct value, in order (a value used twice is sent once)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._numbers: dict[tuple[type, Any], str] = {}

    def __call__(self, value: Any) -> str:
        key = (type(value), tuple(value) if isinstance(value, list) else value)
        number = self._numbers.get(key)
        if number is None:
            self.values.append(value)
            number = self._numbers[key] = f"${len(self.values)}"
        return number


def _word_condition(token: TokenPlan, bind: _Params) -> str:
    """The condition one word must meet: any of its forms contains it.

    Written as ``(index test) AND (exact test)``: the index test is what an index answers
    (the ``LIKE`` itself through pg_trgm for 3 characters or more; ``search_grams`` holding
    the tagged word for shorter ones), the exact test is the ``LIKE`` of every form. A
    ``LIKE`` implies its grams, so this is the same as the ``LIKE``s alone, but PostgreSQL
    builds a ``BitmapOr`` of the index tests and filters the rows with the ``LIKE``s only."""
    likes: list[str] = []
    indexed: list[str] = []
    grams: list[str] = []
    for column, value, _ in token.forms():
        like = f"p.{column} LIKE {bind(like_pattern(value))}"
        if like not in likes:
            likes.append(like)
        if len(value) > SHORT:
            if like not in indexed:
                indexed.append(like)
        elif (gram := _GRAM_TAGS[column] + value) not in grams:
            grams.append(gram)
    if not grams:
        return "(" + " OR ".join(likes) + ")"
    indexed.append(f"p.search_grams && {bind(grams)}::text[]")
    return "(" + " OR ".join(indexed) + ") AND (" + " OR ".join(likes) + ")"


def _word_score(token: TokenPlan, bind: _Params) -> str:
    """What one word adds to relevance: its best form (the name first)."""
    scored = [("search_name", token.text, 40), *token.forms()]
    whens = " ".join(
        f"WHEN p.{column} LIKE {bind(like_pattern(value))} THEN {points}"
        for column, value, points in scored
    )
    return f"CASE {whens} ELSE 0 END"


def _relevance(query: str, tokens: list[TokenPlan], bind: _Params) -> str:
    """The name itself first (as typed, then as read: pinyin, initials), then names that
    start with the query, then names containing it; then each word's best form."""
    exact = (
        f"CASE WHEN p.search_name = {bind(query)} THEN 1000"
        f" WHEN split_part(p.search_pinyin, '|', 1) = {bind(query_pinyin(query))} THEN 900"
        f" WHEN split_part(p.search_initials, '|', 1) = {bind(query.replace(' ', ''))} THEN 800"
        f" WHEN p.search_name LIKE {bind(escape_like(query) + '%')} THEN 300"
        f" WHEN p.search_name LIKE {bind(like_pattern(query))} THEN 100"
        " ELSE 0 END"
    )
    return " + ".join([exact, *(_word_score(token, bind) for token in tokens)])


def _where(f: ProductFilters, tokens: list[TokenPlan], bind: _Params) -> str:
    where = ["p.status = 'on_sale'"]
    where.extend(_word_condition(token, bind) for token in tokens)
    if f.category_id is not None:
        where.append(
            "p.category_id IN (SELECT c.id FROM categories c"
            f" WHERE c.path @> ARRAY[{bind(f.category_id)}::uuid])"
        )
    if f.brand_id is not None:
        where.append(f"p.brand_id = {bind(f.brand_id)}::uuid")
    if f.min_price_fen is not None:
        where.append(f"p.price_fen >= {bind(f.min_price_fen)}::bigint")
    if f.max_price_fen is not None:
        where.append(f"p.price_fen <= {bind(f.max_price_fen)}::bigint")
    if f.in_stock:
        where.append(_IN_STOCK)
    return " AND ".join(where)


def _sort_keys(f: ProductFilters, tokens: list[TokenPlan], bind: _Params) -> list[tuple[str, str]]:
    """``(expression, direction)`` pairs: the order of the list, ties broken to the id."""
    newest = [("p.created_at", "DESC"), ("p.id", "ASC")]
    if f.sort is SortOrder.price_asc:
        return [("p.price_fen", "ASC"), *newest]
    if f.sort is SortOrder.price_desc:
        return [("p.price_fen", "DESC"), *newest]
    if f.sort is SortOrder.newest:
        return newest
    by_sales = [("p.sales_count", "DESC"), *newest]
    if f.sort is SortOrder.sales or not tokens:
        return by_sales
    return [(_relevance(f.q, tokens, bind), "DESC"), *by_sales]


@dataclass(frozen=True)
class Statement:
    sql: str
    args: list[Any]


def page_statement(
    f: ProductFilters, tokens: list[TokenPlan], offset: int, limit: int
) -> Statement:
    """One page of matches with the number of all matches (``total``, the last column).

    The inner query sorts the matches on their sort keys alone and keeps the page's ids;
    the outer one reads what is shown, and the in-stock flag, for those rows only."""
    bind = _Params()
    keys = _sort_keys(f, tokens, bind)
    where = _where(f, tokens, bind)
    inner_keys = ", ".join(f"{expr} AS k{i}" for i, (expr, _) in enumerate(keys))
    inner_order = ", ".join(f"k{i} {direction}" for i, (_, direction) in enumerate(keys))
    outer_order = ", ".join(f"h.k{i} {direction}" for i, (_, direction) in enumerate(keys))
    sql = (
        "SELECT p.id::text, p.name, p.subtitle, p.images ->> 0, p.price_fen,"
        " p.market_price_fen, p.sales_count, p.category_id::text, p.brand_id::text,"
        f" {_IN_STOCK}, h.total"
        f" FROM (SELECT p.id, {inner_keys}, count(*) OVER () AS total"
        f" FROM products p WHERE {where}"
        f" ORDER BY {inner_order} LIMIT {bind(limit)}::bigint OFFSET {bind(offset)}::bigint) h"
        f" JOIN products p ON p.id = h.id ORDER BY {outer_order}"
    )
    return Statement(sql, bind.values)


def count_statement(f: ProductFilters, tokens: list[TokenPlan]) -> Statement:
    bind = _Params()
    where = _where(f, tokens, bind)
    return Statement(f"SELECT count(*) FROM products p WHERE {where}", bind.values)


async def search(
    conn: asyncpg.Connection,
    f: ProductFilters,
    tokens: list[TokenPlan],
    offset: int,
    limit: int,
) -> tuple[list[asyncpg.Record], int]:
    """The page's rows (id, name, subtitle, image_url, price_fen, market_price_fen,
    sales_count, category_id, brand_id, in_stock, total) and the number of matches."""
    page = page_statement(f, tokens, offset, limit)
    rows: list[asyncpg.Record] = await conn.fetch(page.sql, *page.args)
    if rows:
        return rows, int(rows[0][-1])
    if offset == 0:
        return rows, 0
    count = count_statement(f, tokens)
    return rows, int(await conn.fetchval(count.sql, *count.args))


_CORRECTIONS = (
    "SELECT term, levenshtein_less_equal(term, $1, $2) AS d FROM search_terms"
    " WHERE length(term) BETWEEN length($1) - $2 AND length($1) + $2"
    " AND levenshtein_less_equal(term, $1, $2) <= $2"
    " ORDER BY d, term LIMIT 5"
)


async def corrections(conn: asyncpg.Connection, word: str, budget: int) -> tuple[str, ...]:
    """Known Latin words within ``budget`` edits of ``word``; none when it is known as is."""
    rows = await conn.fetch(_CORRECTIONS, word, budget)
    if any(r["d"] == 0 for r in rows):
        return ()
    return tuple(r["term"] for r in rows)
