"""A circuit breaker per upstream: closed → open after consecutive failures → half-open probe."""

import time
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failures_to_open: int, open_s: float) -> None:
        self._threshold = failures_to_open
        self._open_s = open_s
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = State.CLOSED

    def allow(self) -> bool:
        """May a request go to the upstream now? In half-open, exactly one probe may."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and time.monotonic() - self._opened_at >= self._open_s:
            self.state = State.HALF_OPEN
            self._probing = False
        if self.state is State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._probing = False
        self.state = State.CLOSED

    def failed(self) -> None:
        self._failures += 1
        self._probing = False
        if self.state is State.HALF_OPEN or self._failures >= self._threshold:
            self.state = State.OPEN
            self._opened_at = time.monotonic()

    def retry_after_s(self) -> int:
        left = self._open_s - (time.monotonic() - self._opened_at)
        return max(int(left + 0.999), 1)
