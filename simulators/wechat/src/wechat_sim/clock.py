"""The simulator's clock: real time plus an offset the sandbox can advance (code expiry,
token renewal and rate-limit windows can be tested without waiting)."""

import time


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> float:
        self.offset_s += seconds
        return self.now()
