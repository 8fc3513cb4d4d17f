"""Helpers for tests that run the suite's real processes against the real servers."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from devstack.infra import Server, start_kafka

T = TypeVar("T")

LOG_DIR = Path(os.environ.get("MINIMALL_TEST_LOG_DIR", "/tmp/minimall-test-logs"))


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None or False; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@dataclass
class Processes:
    """Processes started by one test; all killed when it ends."""

    env: dict[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (LOG_DIR / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        return process

    def signal(self, name: str, sig: int) -> None:
        self.running[name].send_signal(sig)

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            process.kill()
        process.wait()

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


class PrivateBroker:
    """An embedded broker for one test module, which may stop and restart it. The session's
    broker is never restarted: the embedded one keeps nothing across a restart, so every
    topic and committed offset the later modules' consumers rely on would be gone."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: Server = start_kafka(data_dir)
        self.bootstrap = f"127.0.0.1:{self.server.port}"

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with every service's Kafka address pointing here."""
        kafka = {k: self.bootstrap for k in env if k.endswith("_KAFKA_BOOTSTRAP_SERVERS")}
        return {**env, **kafka}

    def drop(self) -> None:
        self.server.stop()

    def restore(self) -> None:
        self.server = start_kafka(self.data_dir, port=self.server.port)
