"""What every benchmark shares: waiting for a server, running wrk and reading its figures,
and the granian command the gateway runs under."""

import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

GRANIAN = [
    sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop",
    "--log-level", "warning",
]  # fmt: skip


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float


def wait_http(url: str, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(name: str, args: list[str]) -> Result:
    """Run ``wrk --latency`` with ``args``; every answer must be 2xx/3xx."""
    out = subprocess.run(["wrk", "--latency", *args], capture_output=True, text=True, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if non2xx:
        raise RuntimeError(f"{name}: {non2xx.group(1)} error answers\n{text}")
    return Result(name, rps, p50, p99)
