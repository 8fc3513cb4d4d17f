"""The product detail as JSON bytes, from two cache levels.

- The product document (everything but stock and sales) lives in-process for
  ``PRODUCT_CACHE_L1_TTL_S`` and in Redis for ``PRODUCT_CACHE_L2_TTL_S``; both are dropped
  on every instance when ``catalog.product_changed`` arrives (``details.invalidation``).
- Stock and sales are re-read (one indexed Core query) at most every ``STOCK_CACHE_TTL_S``
  per product and instance, so shown stock is never older than that.
- The composed answer is kept in-process until either part is due: a hot product costs a
  dict lookup. Concurrent misses of one product share one load.
- Refresh ahead: a hit on an answer older than half its stock lifetime queues the product
  for a background refresh; one task re-reads the stock of every queued product in one
  query. Hot products are so refreshed before they are due and no shopper waits on the
  database; the answer is still never older than ``STOCK_CACHE_TTL_S``.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.details import repository
from catalog.details.invalidation import DOC_KEY, GEN_KEY
from catalog.settings import CatalogSettings
from catalog.ttl_cache import TTLCache

log = get_logger(__name__)

# Write the Redis copy only if no invalidation happened since the reader looked.
_SET_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
"""


REFRESH_AHEAD = 0.5  # of the stock lifetime: hits after this queue a background refresh
REFRESH_WINDOW = 0.05  # of the stock lifetime: how long the refresher gathers products
REFRESH_BATCH = 500  # products per stock query of the refresher


def compose(doc: dict[str, Any], sales: int, stock: dict[str, int]) -> bytes:
    skus = [{**s, "stock": stock.get(s["id"], 0)} for s in doc["skus"]]
    body = {
        **doc,
        "sales_count": sales,
        "in_stock": any(s["stock"] > 0 for s in skus),
        "skus": skus,
    }
    return orjson.dumps(body)


@dataclass(frozen=True, slots=True)
class _Page:
    body: bytes
    refresh_at: float  # monotonic; a hit after this queues a refresh


class ProductPages:
    def __init__(self, engine: AsyncEngine, redis: "Redis", settings: CatalogSettings) -> None:
        # Single reads need no transaction: no BEGIN and ROLLBACK round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._redis = redis
        self._settings = settings
        self._docs: TTLCache[uuid.UUID, tuple[float, dict[str, Any]]] = TTLCache(
            settings.product_cache_l1_max
        )
        self._pages: TTLCache[uuid.UUID, _Page] = TTLCache(settings.product_cache_l1_max)
        self._loading: dict[uuid.UUID, asyncio.Future[bytes | None]] = {}
        self._generation = 0  # bumped by every invalidation heard
        self._due: dict[uuid.UUID, None] = {}  # queued for a refresh ahead, in order
        self._refresher: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)

    # -- invalidation (called by the pub/sub listener) ------------------------------------

    def invalidate(self, product_id: str) -> None:
        self._generation += 1
        try:
            key = uuid.UUID(product_id)
        except ValueError:
            self.clear()
            return
        self._docs.drop(key)
        self._pages.drop(key)

    def clear(self) -> None:
        self._generation += 1
        self._docs.clear()
        self._pages.clear()

    # -- reads ----------------------------------------------------------------------------

    async def page(self, product_id: uuid.UUID) -> bytes | None:
        hit = self._pages.get(product_id)
        if hit is not None:
            if hit.refresh_at <= time.monotonic():
                self._queue_refresh(product_id)
            return hit.body
        loading = self._loading.get(product_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._loading[product_id] = future
        try:
            body = await self._load(product_id)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(body)
            return body
        finally:
            self._loading.pop(product_id, None)

    async def _load(self, product_id: uuid.UUID) -> bytes | None:
        generation = self._generation
        now = time.monotonic()
        cached = self._docs.get(product_id)
        async with self._engine.connect() as conn:
            if cached is None:
                doc, shared_generation = await self._shared_doc(product_id)
                if doc is None:
                    doc = await repository.product_doc(conn, product_id)
                    if doc is None:
                        return None
                    if shared_generation is not None and self._settings.product_cache_l2_ttl_s > 0:
                        await self._share_doc(product_id, doc, shared_generation)
                doc_due = now + self._settings.product_cache_l1_ttl_s
                if generation == self._generation:
                    self._docs.put(
                        product_id, (doc_due, doc), self._settings.product_cache_l1_ttl_s
                    )
            else:
                doc_due, doc = cached
            sales, stock = await repository.stock(conn, product_id)
        body = compose(doc, sales, stock)
        if generation == self._generation:
            self._keep(product_id, body, now, doc_due)
        return body

    def _keep(self, product_id: uuid.UUID, body: bytes, read_at: float, doc_due: float) -> None:
        """Cache an answer whose stock was read after ``read_at`` until its stock or its
        document is due (counted from before the read, so never later than promised)."""
        lifetime = min(self._settings.stock_cache_ttl_s, doc_due - read_at)
        ttl = read_at + lifetime - time.monotonic()
        page = _Page(body, read_at + lifetime * REFRESH_AHEAD)
        self._pages.put(product_id, page, ttl)

    # -- refresh ahead --------------------------------------------------------------------

    def _queue_refresh(self, product_id: uuid.UUID) -> None:
        self._due[product_id] = None
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_due())

    async def _refresh_due(self) -> None:
        window = self._settings.stock_cache_ttl_s * REFRESH_WINDOW
        while self._due:
            await asyncio.sleep(window)  # gather the products falling due meanwhile
            batch = list(self._due)[:REFRESH_BATCH]
            for product_id in batch:
                del self._due[product_id]
            try:
                await self._refresh(batch)
            except Exception as exc:  # the request path loads them when they are due
                log.warning("catalog.stock_refresh_failed", error=repr(exc))

    async def _refresh(self, product_ids: list[uuid.UUID]) -> None:
        generation = self._generation
        read_at = time.monotonic()
        docs: dict[uuid.UUID, tuple[float, dict[str, Any]]] = {}
        for product_id in product_ids:
            cached = self._docs.get(product_id)
            if cached is None or product_id in self._loading:
                continue  # document due or a load under way: the request path loads it
            docs[product_id] = cached
        if not docs:
            return
        async with self._engine.connect() as conn:
            found = await repository.stocks(conn, list(docs))
        if generation != self._generation:
            return
        for product_id, (doc_due, doc) in docs.items():
            sales, stock = found.get(product_id, (0, {}))
            self._keep(product_id, compose(doc, sales, stock), read_at, doc_due)

    async def _shared_doc(self, product_id: uuid.UUID) -> tuple[dict[str, Any] | None, str | None]:
        """The Redis copy, else None and the product's generation before we read the
        database (None when Redis is away: then nothing is written back)."""
        try:
            raw, generation = await self._redis.mget(
                DOC_KEY.format(product_id), GEN_KEY.format(product_id)
            )
        except RedisError as exc:
            log.warning("catalog.cache_unavailable", error=repr(exc))
            return None, None
        if raw is None:
            return None, str(generation or "0")
        doc: dict[str, Any] = orjson.loads(raw)
        return doc, None

    async def _share_doc(self, product_id: uuid.UUID, doc: dict[str, Any], generation: str) -> None:
        """Put the document in Redis unless it was invalidated since ``generation`` was read:
        an announce in between bumps it, and the script refuses the stale copy."""
        try:
            await self._redis.eval(
                _SET_IF_CURRENT,
                2,
                DOC_KEY.format(product_id),
                GEN_KEY.format(product_id),
                generation,
                orjson.dumps(doc),
                self._settings.product_cache_l2_ttl_s,
            )
        except RedisError as exc:
            log.warning("catalog.cache_unavailable", error=repr(exc))
