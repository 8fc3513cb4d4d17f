"""Rate limits in Redis: GCRA over several keys in one atomic Lua step.

Each limit is ``limit`` requests per ``period``: a burst of ``limit`` at once, refilled at
one request every ``period / limit``. A request passes only if every key it is counted
against has room; then all of them are charged together, so a denied request costs nothing.
The clock is Redis's own (``TIME``), the same for every gateway replica.
"""

import math
from dataclasses import dataclass

from shared.redis_pipe import RedisPipe, RedisPipeError, Script

from gateway.settings import RateLimit

# KEYS: the counters. ARGV: for each key, its emission interval then its period, both in
# microseconds (milliseconds would round the interval of a high limit to zero).
# Returns {allowed, retry_after_us, remaining, reset_us, limiting_index}: for a denial the key
# that waits longest; for a pass the key with the least room left.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local tats, new_tats = {}, {}
local worst_wait, worst_index = -1, 0
local least_room, least_index, least_reset = math.huge, 1, 0
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local new_tat = tat + interval
  local wait = new_tat - now - period
  if wait > 0 then
    if wait > worst_wait then worst_wait, worst_index = wait, i end
  else
    new_tats[i] = new_tat
    local room = math.floor((period - (new_tat - now)) / interval)
    if room < least_room then least_room, least_index, least_reset = room, i, new_tat - now end
  end
end
if worst_index > 0 then
  return {0, worst_wait, 0, tats[worst_index] - now, worst_index}
end
for i = 1, n do
  local ttl_ms = math.ceil((new_tats[i] - now) / 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.0f', new_tats[i]), 'PX', ttl_ms)
end
return {1, 0, least_room, least_reset, least_index}
"""
_GCRA = Script(GCRA)


@dataclass(frozen=True, slots=True)
class Counter:
    key: str
    limit: RateLimit


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
        ]
        if not self.allowed:
            headers.append((b"retry-after", str(self.retry_after_s).encode()))
        return headers


class RateLimiterUnavailable(Exception):
    pass


class RateLimiter:
    def __init__(self, redis: RedisPipe) -> None:
        self._redis = redis

    async def check(self, counters: list[Counter]) -> Decision:
        args: list[int] = []
        for c in counters:
            period_us = int(c.limit.period_s * 1_000_000)
            args += [max(period_us // c.limit.limit, 1), period_us]
        try:
            reply = await self._redis.eval(_GCRA, [f"rl:{c.key}" for c in counters], args)
        except RedisPipeError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        assert isinstance(reply, list)
        allowed, wait_us, remaining, reset_us, index = reply
        limiting = counters[int(index) - 1].limit
        return Decision(
            allowed=bool(allowed),
            limit=limiting.limit,
            remaining=max(int(remaining), 0),
            reset_s=math.ceil(int(reset_us) / 1_000_000),
            retry_after_s=max(math.ceil(int(wait_us) / 1_000_000), 1),
        )
