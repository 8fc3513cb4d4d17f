"""A lean HTTP/1.1 load generator (keep-alive, prebuilt requests), so that the client costs
little CPU next to the servers it measures on the same machine."""

import asyncio
import time
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    body: bytes
    latency_s: float


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return status, body


async def run(
    host: str, port: int, requests: list[bytes], connections: int
) -> tuple[list[Reply], float]:
    """Send every request once over ``connections`` keep-alive connections; the replies
    (in request order) and the wall time."""
    replies: list[Reply | None] = [None] * len(requests)
    cursor = iter(range(len(requests)))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in cursor:
                started = time.perf_counter()
                writer.write(requests[i])
                status, body = await _read_reply(reader)
                replies[i] = Reply(status, body, time.perf_counter() - started)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return [r for r in replies if r is not None], elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]
