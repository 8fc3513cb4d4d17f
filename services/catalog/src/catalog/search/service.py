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
change this instance hears of. An answer asked for after ``REFRESH_AHEAD`` of its lifetime
(jittered per answer, so answers cached together do not fall due together) is still served
while a background task recomputes it; concurrent misses of one answer share one query
(single flight: one query per answer in flight per process, the others await it). So
popular answers are never all due at once and shoppers rarely wait on the database, while
no answer is ever older than the TTL, counted from before its query; and a request that
arrives after a change never shares a query begun before it.

A miss costs one or two statements on the search's own asyncpg pool (``search.pool``): the
typo corrections of Latin words (kept as long as answers), then the page; the JSON is
written by orjson straight from the rows.
"""

import asyncio
import random
import time
from dataclasses import dataclass

import asyncpg
import orjson
from shared.logging import get_logger
from shared.pagination import PageParams

from catalog.search import repository
from catalog.search.pool import ReadPool
from catalog.search.repository import TokenPlan
from catalog.search.schemas import ProductFilters
from catalog.search.text import has_cjk, is_latin, normalize, query_pinyin, typo_budget
from catalog.settings import CatalogSettings
from catalog.ttl_cache import TTLCache

log = get_logger(__name__)

MAX_WORDS = 8
REFRESH_AHEAD = (0.3, 0.8)  # of the lifetime, drawn per answer
REFRESHES_AT_ONCE = 4  # refreshes ahead in flight at once: they never crowd the loop
FIXES_MAX = 4096  # Latin words whose corrections are kept

Key = tuple[ProductFilters, int, int]

# The fields of ``schemas.ProductListItem``, in the order ``repository.search`` reads them.
_ITEM_FIELDS = (
    "id",
    "name",
    "subtitle",
    "image_url",
    "price_fen",
    "market_price_fen",
    "sales_count",
    "category_id",
    "brand_id",
    "in_stock",
)


@dataclass(frozen=True, slots=True)
class _Answer:
    body: bytes
    refresh_at: float  # monotonic; a hit after this starts a refresh


def page_json(rows: list[asyncpg.Record], total: int, params: PageParams) -> bytes:
    """``Page[ProductListItem]`` as JSON, written from the rows without pydantic."""
    items = [dict(zip(_ITEM_FIELDS, row, strict=False)) for row in rows]
    return orjson.dumps(
        {"items": items, "total": total, "page": params.page, "page_size": params.page_size}
    )


class ProductSearch:
    def __init__(self, settings: CatalogSettings) -> None:
        self._pool = ReadPool(settings.database_url, settings.search_pool_size)
        self._ttl = settings.search_cache_ttl_s
        self._cache: TTLCache[Key, _Answer] = TTLCache(settings.search_cache_max)
        # Corrections of Latin words, kept and dropped with the answers (none when off).
        self._fixes: TTLCache[str, tuple[str, ...]] = TTLCache(FIXES_MAX)
        # Misses being answered, each with the generation it began in.
        self._loading: dict[Key, tuple[int, asyncio.Task[bytes]]] = {}
        self._ahead: set[Key] = set()  # refreshes ahead queued or running
        self._refreshing = asyncio.Semaphore(REFRESHES_AT_ONCE)
        self._generation = 0  # bumped by every clear: a query begun before is not kept

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._fixes.clear()

    async def page_json(self, filters: ProductFilters, params: PageParams) -> bytes:
        q = normalize(filters.q)
        if q != filters.q:
            filters = filters.model_copy(update={"q": q})
        key = (filters, params.page, params.page_size)
        hit = self._cache.get(key)
        if hit is not None:
            if hit.refresh_at <= time.monotonic() and key not in self._ahead:
                self._ahead.add(key)
                ahead = asyncio.get_running_loop().create_task(self._refresh(key, params))
                ahead.add_done_callback(_retrieve)
            return hit.body
        if self._ttl <= 0:  # off: every request runs its own query
            return await self._query(filters, params)
        loading = self._loading.get(key)
        if loading is None or loading[0] != self._generation:  # none, or begun before a change
            miss = asyncio.get_running_loop().create_task(self._miss(key, params))
            miss.add_done_callback(_retrieve)
            loading = self._loading[key] = (self._generation, miss)
        return await asyncio.shield(loading[1])

    async def _miss(self, key: Key, params: PageParams) -> bytes:
        """Answer a miss: shoppers wait for it, so it never queues behind refreshes."""
        try:
            return await self._compute(key, params)
        finally:
            current = self._loading.get(key)
            if current is not None and current[1] is asyncio.current_task():
                del self._loading[key]

    async def _refresh(self, key: Key, params: PageParams) -> bytes | None:
        """Recompute an answer still being served, in turn with the other refreshes (so
        they never crowd the event loop), unless it is no longer due (a miss or a change
        got there first)."""
        try:
            async with self._refreshing:
                hit = self._cache.get(key)
                if hit is None or hit.refresh_at > time.monotonic() or key in self._loading:
                    return None
                return await self._compute(key, params)
        finally:
            self._ahead.discard(key)

    async def _compute(self, key: Key, params: PageParams) -> bytes:
        generation, started = self._generation, time.monotonic()
        body = await self._query(key[0], params)
        if generation == self._generation:
            share = random.uniform(*REFRESH_AHEAD)  # spreads refreshes; not a secret
            answer = _Answer(body, started + self._ttl * share)
            self._cache.put(key, answer, started + self._ttl - time.monotonic())
        return body

    async def _query(self, filters: ProductFilters, params: PageParams) -> bytes:
        generation = self._generation

        async def read(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], int]:
            tokens = await self._plan(conn, filters.q, generation)
            return await repository.search(conn, filters, tokens, params.offset, params.page_size)

        rows, total = await self._pool.run(read)
        return page_json(rows, total, params)

    async def _plan(self, conn: asyncpg.Connection, query: str, generation: int) -> list[TokenPlan]:
        tokens: list[TokenPlan] = []
        for word in normalize(query).split(" ")[:MAX_WORDS]:
            if not word:
                continue
            if has_cjk(word):
                tokens.append(TokenPlan(text=word, pinyin=query_pinyin(word) or None))
            elif is_latin(word):
                budget = typo_budget(word)
                fixes = await self._corrections(conn, word, budget, generation) if budget else ()
                tokens.append(TokenPlan(text=word, latin=True, corrections=fixes))
            else:
                tokens.append(TokenPlan(text=word))
        return tokens

    async def _corrections(
        self, conn: asyncpg.Connection, word: str, budget: int, generation: int
    ) -> tuple[str, ...]:
        fixes = self._fixes.get(word)
        if fixes is None:
            fixes = await repository.corrections(conn, word, budget)
            if generation == self._generation:
                self._fixes.put(word, fixes, self._ttl)
        return fixes


def _retrieve(task: "asyncio.Task[bytes] | asyncio.Task[bytes | None]") -> None:
    """Log a failed query (waiters get the error; a refresh ahead keeps the stale answer)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("catalog.search_failed", error=repr(exc))
