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
while one background task recomputes it; concurrent misses of one answer share one query.
So popular answers are never all due at once and shoppers rarely wait on the database,
while no answer is ever older than the TTL.
"""

import asyncio
import random
import time
from dataclasses import dataclass

from shared.logging import get_logger
from shared.pagination import Page, PageParams
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from catalog.search import repository
from catalog.search.repository import TokenPlan
from catalog.search.schemas import ProductFilters, ProductListItem
from catalog.search.text import has_cjk, is_latin, normalize, pinyin, typo_budget
from catalog.settings import CatalogSettings
from catalog.ttl_cache import TTLCache

log = get_logger(__name__)

MAX_WORDS = 8
REFRESH_AHEAD = (0.3, 0.8)  # of the lifetime, drawn per answer
REFRESHES_AT_ONCE = 4  # refreshes ahead in flight at once: they never crowd the loop

Key = tuple[ProductFilters, int, int]


@dataclass(frozen=True, slots=True)
class _Answer:
    body: bytes
    refresh_at: float  # monotonic; a hit after this starts a refresh


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
        # Single reads need no transaction: no BEGIN and ROLLBACK round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._ttl = settings.search_cache_ttl_s
        self._cache: TTLCache[Key, _Answer] = TTLCache(settings.search_cache_max)
        self._loading: dict[Key, asyncio.Task[bytes]] = {}  # misses being answered
        self._ahead: set[Key] = set()  # refreshes ahead queued or running
        self._refreshing = asyncio.Semaphore(REFRESHES_AT_ONCE)
        self._generation = 0  # bumped by every clear: a query begun before is not kept

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def page_json(self, filters: ProductFilters, params: PageParams) -> bytes:
        q = normalize(filters.q)
        if q != filters.q:
            filters = filters.model_copy(update={"q": q})
        key = (filters, params.page, params.page_size)
        hit = self._cache.get(key)
        if hit is not None:
            if hit.refresh_at <= time.monotonic() and key not in self._ahead:
                self._ahead.add(key)
                task = asyncio.get_running_loop().create_task(self._refresh(key, params))
                task.add_done_callback(_retrieve)
            return hit.body
        if self._ttl <= 0:  # off: every request runs its own query
            return await self._query(filters, params)
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.get_running_loop().create_task(self._miss(key, params))
            loading.add_done_callback(_retrieve)
            self._loading[key] = loading
        return await asyncio.shield(loading)

    async def _miss(self, key: Key, params: PageParams) -> bytes:
        """Answer a miss: shoppers wait for it, so it never queues behind refreshes."""
        try:
            return await self._compute(key, params)
        finally:
            self._loading.pop(key, None)

    async def _refresh(self, key: Key, params: PageParams) -> bytes | None:
        """Recompute an answer still being served, in turn with the other refreshes (so
        they never crowd the event loop), unless a miss is computing it already."""
        try:
            async with self._refreshing:
                if key in self._loading:
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
        async with self._engine.connect() as conn:
            tokens = await plan(conn, filters.q)
            items, total = await repository.search(
                conn, filters, tokens, params.offset, params.page_size
            )
        return Page[ProductListItem].of(items, total, params).model_dump_json().encode()


def _retrieve(task: "asyncio.Task[bytes] | asyncio.Task[bytes | None]") -> None:
    """Log a failed query (waiters get the error; a refresh ahead keeps the stale answer)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("catalog.search_failed", error=repr(exc))
