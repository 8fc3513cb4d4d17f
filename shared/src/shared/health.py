"""``/healthz`` (the process lives), ``/readyz`` (its dependencies answer), ``/metrics``.

On SIGTERM an HTTP process drains: ``/readyz`` answers 503 at once, and the server keeps
serving for ``drain_s`` before uvicorn's own graceful shutdown (stop listening, finish
in-flight requests, lifespan shutdown) starts. See ``drain_on_sigterm``.
"""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import FrameType

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.errors import error_response
from shared.logging import get_logger

log = get_logger(__name__)

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_S = 2.0


class Draining:
    """Set once the process was asked to stop; ``/readyz`` fails from then on."""

    def __init__(self) -> None:
        self.active = False


@contextlib.contextmanager
def drain_on_sigterm(draining: Draining, drain_s: float) -> Iterator[None]:
    """While inside, SIGTERM marks ``draining`` and is passed on ``drain_s`` seconds later.

    uvicorn handles SIGTERM by closing its listener, finishing in-flight requests and then
    running the lifespan shutdown, so a flag set in the lifespan would come too late and a
    readiness probe could not even connect. This wraps the handler installed before (uvicorn's)
    instead: readiness fails at once, the server keeps answering for ``drain_s`` so load
    balancers see it, then uvicorn shuts down gracefully. Enter it in the running loop.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (in-process test clients, workers)
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)

    def pass_on(sig: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(sig, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(sig, previous)
            signal.raise_signal(sig)

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if not draining.active:
            draining.active = True
            log.info("service.draining", drain_s=drain_s)
        loop.call_soon_threadsafe(loop.call_later, drain_s, pass_on, sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
        except Exception as exc:
            return f"failed: {exc!r}"[:300]
        return "ok"

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def health_router(
    checks: Callable[[Request], Mapping[str, Check]],
    before_metrics: Callable[[Request], Awaitable[None]] | None = None,
    draining: Draining | None = None,
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: PostgreSQL, Redis and Kafka answer")
    async def readyz(request: Request) -> JSONResponse:
        if draining is not None and draining.active:
            return error_response(503, "shutting_down", "The process is shutting down.")
        results = await run_checks(checks(request))
        if all(r == "ok" for r in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        details = [{"check": name, "result": r} for name, r in results.items()]
        return error_response(503, "not_ready", "A dependency is unavailable.", details)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if before_metrics is not None:
            # A gauge that cannot refresh keeps its last value.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(before_metrics(request), timeout=CHECK_TIMEOUT_S)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
