"""Run a long-lived worker (consumer, relay) as its own process with clean shutdown."""

import asyncio
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

from shared.logging import configure_logging, get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)


def run_worker(
    name: str, settings: ServiceSettings, main: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """Configure logs, serve /metrics when a port is set, run ``main`` until SIGTERM/SIGINT."""
    configure_logging(f"{settings.service_name}-{name}", settings.log_level, settings.log_json)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.http_host)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker.started", worker=name)
        await main(stop)
        log.info("worker.stopped", worker=name)

    asyncio.run(runner())
