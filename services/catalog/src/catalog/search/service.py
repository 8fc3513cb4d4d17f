"""Search: a query becomes one plan per word, then one SQL statement (``repository``).

Each word must match (AND), in any of its forms (OR):
- its text in the name, brand, category or subtitle (Chinese substrings, Latin words);
- a Chinese word's pinyin in the name's pinyin (homophone typos: 连衣群 → lianyiqun);
- a Latin word in the name's full pinyin or initials (lianyiqun, lyq);
- a Latin word not in the dictionary, corrected to dictionary words within its typo budget
  (Levenshtein, ``fuzzystrmatch``): iphnoe → iphone.
Relevance: the exact name first, then names starting with, then containing the query, then
the sum of each word's best form (name > other text > pinyin > initials > correction).

Answers are cached in-process for ``SEARCH_CACHE_TTL_S`` and dropped with every product
change this instance hears of.
"""

from shared.pagination import Page, PageParams
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from catalog.search import repository
from catalog.search.repository import TokenPlan
from catalog.search.schemas import ProductFilters, ProductListItem
from catalog.search.text import has_cjk, is_latin, normalize, pinyin, typo_budget
from catalog.settings import CatalogSettings
from catalog.ttl_cache import TTLCache

MAX_WORDS = 8


async def plan(conn: AsyncConnection, query: str) -> list[TokenPlan]:
    tokens: list[TokenPlan] = []
    for word in normalize(query).split(" ")[:MAX_WORDS]:
        if not word:
            continue
        if has_cjk(word):
            tokens.append(TokenPlan(text=word, pinyin=pinyin(word) or None))
        elif is_latin(word):
            budget = typo_budget(word)
            fixes = await repository.corrections(conn, word, budget) if budget else ()
            tokens.append(TokenPlan(text=word, latin=True, corrections=fixes))
        else:
            tokens.append(TokenPlan(text=word))
    return tokens


class ProductSearch:
    def __init__(self, engine: AsyncEngine, settings: CatalogSettings) -> None:
        self._engine = engine
        self._ttl = settings.search_cache_ttl_s
        self._cache: TTLCache[tuple[ProductFilters, int, int], bytes] = TTLCache(
            settings.search_cache_max
        )

    def clear(self) -> None:
        self._cache.clear()

    async def page_json(self, filters: ProductFilters, params: PageParams) -> bytes:
        filters = filters.model_copy(update={"q": normalize(filters.q)})
        key = (filters, params.page, params.page_size)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        async with self._engine.connect() as conn:
            tokens = await plan(conn, filters.q)
            items, total = await repository.search(
                conn, filters, tokens, params.offset, params.page_size
            )
        body = Page[ProductListItem].of(items, total, params).model_dump_json().encode()
        self._cache.put(key, body, self._ttl)
        return body
