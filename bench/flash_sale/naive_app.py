"""The naive flash-sale purchase, bench only: the comparison the issue asks for, served
behind the same gateway as ours (the same JWT check, the same rate-limit rule shape) by the
same server and workers as marketing's fast path.

``POST /api/v1/naive/flash-sales/{sale}/purchase`` (member from ``X-Auth-Member-Id``,
body ``{sku_id, quantity}``): one PostgreSQL transaction on one hot row,
``UPDATE naive_stock SET stock = stock - 1 WHERE id = … AND stock > 0`` and, if a unit was
left, the order row (``INSERT INTO naive_orders``; a second order of the same member
violates the unique key and rolls the unit back). ``202 {order_id}`` or ``409 sold_out`` /
``409 purchase_limit_reached``. As lean as the fast path: raw ASGI, asyncpg, orjson; no
framework, no ORM.

``BENCH_NAIVE_DSN`` (PostgreSQL), ``BENCH_NAIVE_POOL`` (connections per worker).
Tables: ``setup(dsn, stock)`` makes them.
"""

import os
import uuid
from typing import Any

import asyncpg
import orjson
from starlette.types import Message, Receive, Scope, Send

_MEMBER = b"x-auth-member-id"
_JSON = (b"content-type", b"application/json")
_SOLD_OUT = orjson.dumps({"error": {"code": "sold_out", "message": "Sold out.", "details": []}})
_LIMIT = orjson.dumps(
    {"error": {"code": "purchase_limit_reached", "message": "Already bought.", "details": []}}
)


async def setup(dsn: str, stock: int) -> None:
    """(Re)create the naive tables with ``stock`` units on the hot row."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS naive_stock, naive_orders;"
            " CREATE TABLE naive_stock (id int PRIMARY KEY, stock int NOT NULL);"
            " CREATE TABLE naive_orders (id bigserial PRIMARY KEY, member_id uuid NOT NULL UNIQUE,"
            " sku_id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
            f" INSERT INTO naive_stock VALUES (1, {int(stock)});"
        )
    finally:
        await conn.close()


class NaiveApp:
    def __init__(self) -> None:
        self._dsn = os.environ["BENCH_NAIVE_DSN"]
        self._size = int(os.environ.get("BENCH_NAIVE_POOL", "32"))
        self._pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        member = dict(scope["headers"]).get(_MEMBER)
        if scope["method"] != "POST" or not scope["path"].endswith("/purchase") or not member:
            await _answer(send, 404, b'{"error":{"code":"not_found"}}')
            return
        data: dict[str, Any] = orjson.loads(body)
        assert self._pool is not None
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                left = await conn.fetchval(
                    "UPDATE naive_stock SET stock = stock - 1 WHERE id = 1 AND stock > 0"
                    " RETURNING stock"
                )
                if left is None:
                    status, payload = 409, _SOLD_OUT
                else:
                    order = await conn.fetchval(
                        "INSERT INTO naive_orders (member_id, sku_id) VALUES ($1, $2) RETURNING id",
                        uuid.UUID(member.decode()),
                        uuid.UUID(data["sku_id"]),
                    )
                    status, payload = 202, orjson.dumps({"order_id": order, "status": "ordered"})
        except asyncpg.UniqueViolationError:  # the member's second order: the unit goes back
            status, payload = 409, _LIMIT
        await _answer(send, status, payload)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=self._size, max_size=self._size
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    await self._pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> NaiveApp:
    return NaiveApp()
