"""A lean HTTP/1.1 client for the gateway's forwarding path.

aiohttp spends several times more CPU per request than the gateway's own work; this keeps
only what forwarding needs: pooled keep-alive connections per upstream, the request written
in one go (or streamed with chunked encoding), the response parsed by httptools (llhttp),
small bodies read whole and large ones streamed with back-pressure.
"""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools

PAUSE_ABOVE = 1024 * 1024  # stop reading from the upstream while this much is unread


class UpstreamError(Exception):
    pass


class ConnectFailed(UpstreamError):
    """No connection could be made: nothing was sent, a retry is safe."""


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamBroken(UpstreamError):
    """The connection failed mid-exchange."""

    def __init__(self, message: str, *, nothing_received: bool) -> None:
        super().__init__(message)
        self.nothing_received = nothing_received


class _Connection(asyncio.Protocol):
    def __init__(self, pool: "UpstreamPool") -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reset_exchange()
        self._write_ready: asyncio.Future[None] | None = None

    # --- exchange state -------------------------------------------------------------------
    def _reset_exchange(self) -> None:
        # llhttp parses one answer after another on a connection; only a HEAD answer, whose
        # body we skipped, leaves it expecting bytes that will never come.
        if getattr(self, "head_method", True):
            self.parser = httptools.HttpResponseParser(self)
        self.head_method = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.headers_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.received_any = False
        self.error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_for_data(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(timeout, self.time_out)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def wait_for_head(self, timeout: float) -> None:
        if not self.headers_done.done():
            timer = asyncio.get_running_loop().call_later(timeout, self.time_out)
            try:
                await self.headers_done
            finally:
                timer.cancel()
        self.headers_done.result()

    def time_out(self) -> None:
        self._fail(UpstreamTimeout("the upstream did not answer in time"))

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamBroken(f"bad response: {exc}", nothing_received=False))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        if not self.complete:
            self._fail(
                UpstreamBroken(
                    "the upstream closed the connection", nothing_received=not self.received_any
                )
            )
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_exception(UpstreamBroken("closed", nothing_received=False))

    def pause_writing(self) -> None:
        self._write_ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)
        self._write_ready = None

    # --- httptools callbacks --------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:  # an interim answer: wait for the real one
            self.headers = []
            return
        if not self.headers_done.done():
            self.headers_done.set_result(None)
        if self.head_method:
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        self._wake()
        if self.buffered > PAUSE_ABOVE and self.transport is not None:
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return
        self.complete = True
        # Asked here: llhttp forgets once the callback returns.
        self.keep_alive = self.head_method or self.parser.should_keep_alive()
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if not self.headers_done.done():
            self.headers_done.set_exception(error)
            self.headers_done.exception()  # retrieved: no "never retrieved" warning
        self._wake()
        if self.transport is not None:
            self.transport.close()

    # --- used by UpstreamResponse ---------------------------------------------------------
    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
        return data

    async def drain(self) -> None:
        if self._write_ready is not None:
            await self._write_ready


class UpstreamResponse:
    def __init__(self, conn: _Connection, pool: "UpstreamPool", read_timeout: float) -> None:
        self._conn = conn
        self._pool = pool
        self._timeout = read_timeout
        self.status = conn.status
        self.headers = conn.headers
        self._released = False

    @property
    def content_length(self) -> int | None:
        for name, value in self.headers:
            if name == b"content-length":
                return int(value) if value.isdigit() else None
        return None

    async def read(self) -> bytes:
        conn = self._conn
        if conn.complete:  # the usual small answer: head and body came in one read
            return conn.take()
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.chunks:
                yield conn.take()
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise conn.error
            await conn.wait_for_data(self._timeout)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        conn = self._conn
        if conn.complete and conn.keep_alive and not conn.chunks and not conn.closed:
            self._pool.put_back(conn)
        elif conn.transport is not None:
            conn.transport.close()


class UpstreamPool:
    """Keep-alive connections to one upstream (host and port)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        max_idle: int = 512,
        idle_timeout: float = 4.0,
    ) -> None:
        self._host = host
        self._port = port
        self._connect_timeout = connect_timeout
        self._idle: deque[_Connection] = deque()
        self._max_idle = max_idle
        # Below the upstream's keep-alive timeout (uvicorn: 5 s), so that we drop an idle
        # connection before the upstream does.
        self._idle_timeout = idle_timeout

    def forget(self, conn: _Connection) -> None:
        with contextlib.suppress(ValueError):  # not idle
            self._idle.remove(conn)

    def put_back(self, conn: _Connection) -> None:
        if len(self._idle) >= self._max_idle:
            assert conn.transport is not None
            conn.transport.close()
            return
        conn._reset_exchange()
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    async def _connection(self) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            if now - conn.idle_since > self._idle_timeout:
                assert conn.transport is not None
                conn.transport.close()
                continue
            return conn, True
        loop = asyncio.get_running_loop()
        try:
            transport, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self._host, self._port),
                self._connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {self._host}:{self._port}: {exc!r}") from exc
        conn.transport = transport
        return conn, False

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        read_timeout: float,
    ) -> UpstreamResponse:
        """Send one request; returns once the response head has arrived."""
        conn, reused = await self._connection()
        assert conn.transport is not None
        conn.head_method = method == "HEAD"
        head = [f"{method} {target} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        try:
            if body is None or isinstance(body, bytes):
                payload = body or b""
                if payload or method in ("POST", "PUT", "PATCH"):
                    head.append(b"content-length: %d\r\n" % len(payload))
                conn.transport.write(b"".join(head) + b"\r\n" + payload)
            else:
                head.append(b"transfer-encoding: chunked\r\n")
                conn.transport.write(b"".join(head) + b"\r\n")
                async for chunk in body:
                    conn.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await conn.drain()
                conn.transport.write(b"0\r\n\r\n")
            await conn.wait_for_head(read_timeout)
        except UpstreamBroken as exc:
            # Only a reused keep-alive connection that the upstream had already closed is
            # worth a retry; a fresh connection that broke is a real failure.
            exc.nothing_received = exc.nothing_received and reused
            raise
        except BaseException:
            conn.transport.close()
            raise
        return UpstreamResponse(conn, self, read_timeout)
