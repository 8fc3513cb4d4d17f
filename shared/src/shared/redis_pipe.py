"""A lean pipelined Redis connection for hot paths (the gateway's rate limits, the flash-sale
purchase).

redis-py spends more CPU on one small command than Redis does (pool checkout, health checks,
retries, reply decoding). Here one connection per process carries every call: the commands
of one event-loop iteration are written together, replies are matched in order (Redis
answers in order on a connection) and parsed with hiredis, straight from the protocol's
``data_received`` (no reader task, no stream buffer). A call not answered within
``timeout_s`` fails every call in flight (a late reply would be matched to the wrong call)
and the next call opens a new connection.

Replies are hiredis's: ``bytes`` for strings, ``int``, ``list``; an error reply raises
``RedisPipeError``.
"""

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from typing import cast
from urllib.parse import unquote, urlparse

import hiredis


class RedisPipeError(Exception):
    """Redis could not be reached or answered with an error."""


class Script:
    """A Lua script called by SHA (and sent whole once if Redis does not know it yet)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()


def encode(*parts: bytes) -> bytes:
    """One command in RESP."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def _bytes(value: bytes | str | int) -> bytes:
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else b"%d" % value


class _Protocol(asyncio.Protocol):
    def __init__(self, pipe: "RedisPipe") -> None:
        self._pipe = pipe
        self._parser = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        parser, pending = self._parser, self._pipe._pending
        parser.feed(data)
        try:
            while (reply := parser.gets()) is not False:
                future = pending.popleft()
                if not future.done():
                    future.set_result(reply)
        except (IndexError, hiredis.ProtocolError):
            self._pipe._fail(RedisPipeError("Redis sent a reply nobody asked for"), self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pipe._fail(RedisPipeError(f"the Redis connection was lost: {exc!r}"), self)


class RedisPipe:
    def __init__(self, url: str, timeout_s: float = 0.5) -> None:
        parsed = urlparse(url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._username = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password else None
        self._db = int(parsed.path.strip("/") or 0)
        self._timeout = timeout_s
        self._protocol: _Protocol | None = None
        self._pending: deque[asyncio.Future[object]] = deque()
        self._connecting: asyncio.Lock | None = None
        self._unsent: list[bytes] = []  # commands of this loop iteration, written together
        self._wait: asyncio.Future[object] | None = None  # the WAIT of the unsent batch

    async def execute(self, *parts: bytes | str | int) -> object:
        """Any command, e.g. ``execute(b"HGET", key, field)``."""
        return await self._call(encode(*map(_bytes, parts)))

    async def eval(
        self, script: Script | str, keys: Sequence[str], args: Sequence[bytes | str | int]
    ) -> object:
        """EVALSHA ``script`` (EVAL once if Redis has not seen it since its start)."""
        if not isinstance(script, Script):
            script = _script(script)
        argv = [b"%d" % len(keys), *(k.encode() for k in keys), *map(_bytes, args)]
        try:
            return await self._call(encode(b"EVALSHA", script.sha, *argv))
        except RedisPipeError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            return await self._call(encode(b"EVAL", script.source, *argv))

    async def wait(self, replicas: int, timeout_ms: int) -> int:
        """``WAIT replicas timeout_ms`` for every write sent on this connection so far.

        The calls of one loop iteration share one WAIT: Redis blocks the whole connection
        while it waits, so one WAIT per batch (covering all the batch's writes) costs one
        timeout when a replica is away, not one per call."""
        future = self._wait
        if future is None:
            future = self._wait = self._send(encode(b"WAIT", b"%d" % replicas, b"%d" % timeout_ms))
        reply = await future
        if isinstance(reply, hiredis.ReplyError):
            raise RedisPipeError(str(reply))
        assert isinstance(reply, int)
        return reply

    async def _call(self, command: bytes) -> object:
        if self._protocol is None:
            await self._connect()
        reply = await self._send(command)
        if isinstance(reply, hiredis.ReplyError):
            raise RedisPipeError(str(reply))
        return reply

    def _send(self, command: bytes) -> "asyncio.Future[object]":
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._pending.append(future)
        if not self._unsent:
            loop.call_soon(self._flush)
        self._unsent.append(command)
        return future

    def _flush(self) -> None:
        data, self._unsent, self._wait = b"".join(self._unsent), [], None
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            self._fail(RedisPipeError("the Redis connection was lost"), protocol)
            return
        protocol.transport.write(data)
        # Replies come in order: if the batch's last one is late, the connection is unusable.
        # One timer per batch, not per call.
        asyncio.get_running_loop().call_later(
            self._timeout, self._expire, self._pending[-1], protocol
        )

    def _expire(self, future: asyncio.Future[object], protocol: _Protocol) -> None:
        if not future.done():
            self._fail(RedisPipeError("Redis did not answer in time"), protocol)

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None:
                return
            loop = asyncio.get_running_loop()
            try:
                _, protocol = await asyncio.wait_for(
                    loop.create_connection(lambda: _Protocol(self), self._host, self._port),
                    self._timeout,
                )
            except (OSError, TimeoutError) as exc:
                raise RedisPipeError(f"cannot connect to Redis: {exc!r}") from exc
            self._protocol = protocol
            setup = []
            if self._password:
                auth = [self._username.encode()] if self._username else []
                setup.append(encode(b"AUTH", *auth, self._password.encode()))
            if self._db:
                setup.append(encode(b"SELECT", b"%d" % self._db))
            for command in setup:  # sent before any call that waited for the connection
                reply = await self._send(command)
                if isinstance(reply, hiredis.ReplyError):
                    self._fail(RedisPipeError(str(reply)), protocol)
                    raise RedisPipeError(str(reply))

    def _fail(self, error: Exception, protocol: _Protocol | None) -> None:
        """Fail every call in flight and drop the connection (``protocol``: the one that
        failed; a newer connection is left alone)."""
        if protocol is not self._protocol and protocol is not None:
            return
        self._unsent.clear()
        self._wait = None
        current, self._protocol = self._protocol, None
        if current is not None and current.transport is not None:
            current.transport.close()
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        self._fail(RedisPipeError("closed"), self._protocol)


_SCRIPTS: dict[str, Script] = {}


def _script(source: str) -> Script:
    script = _SCRIPTS.get(source)
    if script is None:
        script = _SCRIPTS[source] = Script(source)
    return script
