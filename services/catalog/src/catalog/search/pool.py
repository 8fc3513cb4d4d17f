"""The search's own read pool: asyncpg connections without the ORM's per-checkout costs.

The application engine pings every connection it hands out (``pool_pre_ping``) and
SQLAlchemy wraps each statement; a search is one or two single-statement reads, so here:
- no ping: a read that fails because its connection broke (a restarted server, a dropped
  socket) is retried once on a fresh connection (the pool's idle ones are replaced too);
  reads have no side effects;
- no transaction: asyncpg runs single statements in autocommit (no ``BEGIN``/``ROLLBACK``);
- no reset query on release: these connections never change their session, so the default
  reset (``RESET ALL``, ``UNLISTEN *``, … — one more round trip per read) is skipped;
- session settings for reads of a catalog held in memory: ``random_page_cost`` 1.1 (so the
  planner probes ``ix_skus_product_id`` for the in-stock test of a few hundred matches
  rather than hashing every SKU) and ``force_custom_plan`` (a search is prepared once per
  shape, but ``LIKE`` patterns need a plan made with their values).
Connections are opened on demand (the service starts while PostgreSQL is still coming up).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")

SERVER_SETTINGS = {
    "application_name": "catalog-search",
    "random_page_cost": "1.1",
    "plan_cache_mode": "force_custom_plan",
    "jit": "off",
}
# What a read on a connection the server or the network dropped raises: connection errors,
# the server's own goodbyes (shutdown, restart, idle timeout), and the protocol confusion
# asyncpg reports when such a goodbye arrived while the connection sat idle in the pool.
_BROKEN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
)


# Query parameters of the URL that SQLAlchemy's asyncpg dialect consumes itself.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form) as a plain libpq URL for asyncpg."""
    url = make_url(database_url).set(drivername="postgresql").difference_update_query(_DIALECT_ONLY)
    return url.render_as_string(hide_password=False)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without a reset query: nothing here changes the session."""


class ReadPool:
    def __init__(self, database_url: str, size: int) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._size = max(size, 1)
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._size,
            server_settings=SERVER_SETTINGS,
            reset=_keep_session,
        )

    async def close(self, timeout_s: float = 3.0) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout_s)
            except TimeoutError:  # a read still running: the process is stopping anyway
                pool.terminate()

    async def run(self, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``read`` on a pooled connection; once more on a fresh one if the first broke."""
        if self._pool is None:
            raise RuntimeError("the search pool is not open")
        try:
            async with self._pool.acquire() as conn:
                return await read(conn)
        except _BROKEN:
            # The server went away (restart, failover): its other connections are gone too.
            await self._pool.expire_connections()
            async with self._pool.acquire() as conn:
                return await read(conn)
