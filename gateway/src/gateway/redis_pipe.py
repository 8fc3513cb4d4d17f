"""A lean pipelined Redis connection for the gateway's per-request rate-limit call.

Every gateway request runs one Lua script. redis-py spends more CPU on that than the script
takes in Redis (pool checkout, health checks, retries); here one connection per process
carries every call back to back, replies are matched in order (Redis answers in order on a
connection) and parsed with hiredis. A broken connection fails the calls in flight and is
re-opened by the next call.
"""

import asyncio
import hashlib
from collections import deque
from urllib.parse import urlparse

import hiredis


class RedisPipeError(Exception):
    """Redis could not be reached or answered with an error."""


def _encode(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class RedisPipe:
    def __init__(self, url: str, timeout_s: float = 0.5) -> None:
        parsed = urlparse(url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._password = parsed.password
        self._db = int(parsed.path.strip("/") or 0)
        self._timeout = timeout_s
        self._writer: asyncio.StreamWriter | None = None
        self._pending: deque[asyncio.Future[object]] = deque()
        self._connecting: asyncio.Lock | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._unsent: list[bytes] = []  # commands of this loop iteration, written together

    async def eval(self, script: str, keys: list[str], args: list[int]) -> object:
        sha = hashlib.sha1(script.encode()).hexdigest().encode()
        argv = [
            str(len(keys)).encode(),
            *(k.encode() for k in keys),
            *(str(a).encode() for a in args),
        ]
        try:
            return await self._call(_encode(b"EVALSHA", sha, *argv))
        except RedisPipeError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            return await self._call(_encode(b"EVAL", script.encode(), *argv))

    async def _call(self, command: bytes) -> object:
        if self._writer is None:
            await self._connect()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._pending.append(future)
        if not self._unsent:
            loop.call_soon(self._flush)
        self._unsent.append(command)
        timer = loop.call_later(self._timeout, self._expire, future)
        try:
            reply = await future
        finally:
            timer.cancel()
        if isinstance(reply, hiredis.ReplyError):
            raise RedisPipeError(str(reply))
        return reply

    def _flush(self) -> None:
        data, self._unsent = b"".join(self._unsent), []
        if self._writer is not None:
            self._writer.write(data)
        else:
            self._fail(RedisPipeError("the Redis connection was lost"))

    def _expire(self, future: asyncio.Future[object]) -> None:
        if not future.done():
            # Replies come in order: one that is late leaves the connection unusable.
            self._fail(RedisPipeError("Redis did not answer in time"))

    async def _connect(self) -> asyncio.StreamWriter:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return self._writer
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self._host, self._port), self._timeout
                )
            except (OSError, TimeoutError) as exc:
                raise RedisPipeError(f"cannot connect to Redis: {exc!r}") from exc
            parser = hiredis.Reader()
            setup = []
            if self._password:
                setup.append(_encode(b"AUTH", self._password.encode()))
            if self._db:
                setup.append(_encode(b"SELECT", str(self._db).encode()))
            for command in setup:
                writer.write(command)
                while (reply := parser.gets()) is False:
                    data = await reader.read(65536)
                    if not data:
                        raise RedisPipeError("Redis closed the connection")
                    parser.feed(data)
                if isinstance(reply, hiredis.ReplyError):
                    writer.close()
                    raise RedisPipeError(str(reply))
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read(reader, parser))
            return writer

    async def _read(self, reader: asyncio.StreamReader, parser: hiredis.Reader) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    future = self._pending.popleft()
                    if not future.done():
                        future.set_result(reply)
        except (OSError, IndexError):
            pass
        self._fail(RedisPipeError("the Redis connection was lost"))

    def _fail(self, error: Exception) -> None:
        self._unsent.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        self._fail(RedisPipeError("closed"))
        if self._reader_task is not None:
            self._reader_task.cancel()
