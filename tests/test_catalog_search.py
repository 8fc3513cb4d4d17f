"""The search answer cache and its read pool, in process, on the real test database.

``ProductSearch`` runs its real queries; the tests only count (and, where a race is staged,
hold back) the reads it makes through its pool."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import pytest
from catalog.models import Category, Product
from catalog.search import service as search_service
from catalog.search.pool import ReadPool, asyncpg_dsn
from catalog.search.schemas import ProductFilters
from catalog.search.service import ProductSearch
from catalog.search.text import index_product
from catalog.settings import CatalogSettings
from shared.pagination import PageParams
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import eventually


class Hold:
    """Stops one read after it has read, until released."""

    def __init__(self) -> None:
        self.read = asyncio.Event()
        self.release = asyncio.Event()


class CountedReads:
    """Wraps the pool's ``run``: counts reads; a read given a hold waits on it after reading."""

    def __init__(self, finder: ProductSearch) -> None:
        self.count = 0
        self.holds: list[Hold] = []
        pool = finder._pool
        self._run = pool.run
        pool.run = self.run  # type: ignore[method-assign]

    async def run(self, read: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        self.count += 1
        hold = self.holds.pop(0) if self.holds else None
        result = await self._run(read)
        if hold is not None:
            hold.read.set()
            await hold.release.wait()
        return result


@pytest.fixture
async def finder(envs: dict[str, dict[str, str]]) -> AsyncIterator[ProductSearch]:
    settings = CatalogSettings(
        database_url=envs["catalog"]["CATALOG_DATABASE_URL"], search_cache_ttl_s=600
    )
    made = ProductSearch(settings)
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def add_product(engine: AsyncEngine, name: str) -> None:
    category_id = uuid.uuid4()
    indexed = index_product(name, None, "搜索缓存", "")
    async with engine.begin() as conn:
        await conn.execute(
            insert(Category),
            {"id": category_id, "path": [category_id], "name": f"搜索缓存{category_id.hex[:6]}"},
        )
        await conn.execute(
            insert(Product),
            {
                "name": name,
                "category_id": category_id,
                "status": "on_sale",
                "price_fen": 100,
                "search_name": indexed.name,
                "search_text": indexed.text,
                "search_pinyin": indexed.pinyin,
                "search_initials": indexed.initials,
            },
        )


def names(body: bytes) -> list[str]:
    return [item["name"] for item in orjson.loads(body)["items"]]


async def test_concurrent_misses_of_one_answer_share_one_query(finder: ProductSearch) -> None:
    reads = CountedReads(finder)
    word = f"zq{uuid.uuid4().hex[:8]}"
    first = ProductFilters(q=word)
    bodies = await asyncio.gather(*(finder.page_json(first, PageParams()) for _ in range(20)))
    assert reads.count == 1 and len(set(bodies)) == 1
    assert orjson.loads(bodies[0]) == {"items": [], "total": 0, "page": 1, "page_size": 20}
    await finder.page_json(ProductFilters(q=word.upper()), PageParams())  # same answer
    assert reads.count == 1
    await finder.page_json(first, PageParams(page=2))  # another answer
    assert reads.count == 2


async def test_a_request_after_a_change_never_gets_an_answer_read_before_it(
    finder: ProductSearch, engines: dict[str, AsyncEngine]
) -> None:
    reads = CountedReads(finder)
    name = f"缓存竞态{uuid.uuid4().hex[:6]}"
    filters = ProductFilters(q=name)
    hold = Hold()
    reads.holds.append(hold)
    early = asyncio.create_task(finder.page_json(filters, PageParams()))
    await asyncio.wait_for(hold.read.wait(), timeout=30)  # read, not yet answered

    await add_product(engines["catalog"], name)
    finder.clear()  # what the invalidation listener does when it hears of the change
    late = await asyncio.wait_for(finder.page_json(filters, PageParams()), timeout=30)
    assert names(late) == [name] and reads.count == 2 and not early.done()

    hold.release.set()
    assert names(await early) == []  # its caller asked before the change
    # The early answer, read before the change, was not kept over the late one.
    assert names(await finder.page_json(filters, PageParams())) == [name]
    assert reads.count == 2


async def test_refresh_ahead_serves_the_answer_and_recomputes_it_once(
    finder: ProductSearch, engines: dict[str, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_service, "REFRESH_AHEAD", (0.0, 0.0))  # due at once
    reads = CountedReads(finder)
    name = f"预刷新{uuid.uuid4().hex[:6]}"
    filters = ProductFilters(q=name)
    first = await finder.page_json(filters, PageParams())
    assert names(first) == [] and reads.count == 1

    await add_product(engines["catalog"], name)  # behind the cache's back: no clear
    served = await asyncio.gather(*(finder.page_json(filters, PageParams()) for _ in range(20)))
    assert set(served) == {first}  # hits answer at once, from the answer in hand

    async def refreshed() -> bool:
        return names(await finder.page_json(filters, PageParams())) == [name]

    await eventually(lambda: _true(not finder._ahead))  # the refresh is over
    assert reads.count == 2  # one refresh for the twenty hits
    await eventually(refreshed)


async def test_the_read_pool_replaces_a_connection_the_server_dropped(
    envs: dict[str, dict[str, str]], engines: dict[str, AsyncEngine]
) -> None:
    async def backend_pid(conn: asyncpg.Connection) -> int:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))

    async def terminate(pid: int) -> None:
        async with engines["catalog"].connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    async def gone(pid: int) -> bool:
        async with engines["catalog"].connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
        return bool(found == 0)

    pool = ReadPool(envs["catalog"]["CATALOG_DATABASE_URL"], 1)
    await pool.open()
    try:
        first = await pool.run(backend_pid)
        await terminate(first)  # read again at once: the goodbye may arrive mid-read
        second = await pool.run(backend_pid)
        assert second != first

        await terminate(second)
        await eventually(lambda: gone(second))  # the goodbye reached the idle connection
        third = await pool.run(backend_pid)
        assert third != second
        assert await pool.run(backend_pid) == third  # and the pool is healthy again
    finally:
        await pool.close()


def test_the_read_pool_takes_the_services_database_url() -> None:
    url = "postgresql+asyncpg://shop:p%40ss@db:5432/catalog?ssl=require&prepared_statement_cache_size=0"
    assert asyncpg_dsn(url) == "postgresql://shop:p%40ss@db:5432/catalog?ssl=require"


async def _true(value: bool) -> bool:
    return value
