"""The Redis side of a flash sale: its keys and the Lua steps that change them atomically.

Keys of sale ``S`` share the hash tag ``{fs:S}`` (one Redis Cluster slot):

- ``meta``: hash ``starts_ms ends_ms limit total sku state`` (``state``: open | closed);
- ``units``: list of the free slot numbers (its length is the remaining units);
- ``members``: hash member id → units the member holds;
- ``tickets``: hash ticket → ``status|member|quantity|slots|at_ms|extra`` (``extra``: the
  order id of an ``ordered`` ticket, the reason of a ``rejected`` one);
- ``returned``: set of tickets whose units went back to the sale (each once);
- ``stream``: the intents (XADD), read by the forwarder's consumer group ``fwd``.

A ticket is ``<sale id hex>-<16 hex>``, so its sale is known without a lookup.
"""

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

FORWARD_GROUP = "fwd"

# KEYS: meta units members tickets stream
# ARGV: member quantity ticket sku address
# Returns {code, detail}: ok (slots csv), replay (status row), or a refusal.
PURCHASE = """
local meta = redis.call('HMGET', KEYS[1], 'starts_ms', 'ends_ms', 'limit', 'state', 'sku')
if not meta[1] then return {'not_loaded', ''} end
if meta[4] ~= 'open' then return {'closed', ''} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(meta[1]) then return {'not_started', meta[1]} end
if now >= tonumber(meta[2]) then return {'ended', ''} end
if ARGV[4] ~= meta[5] then return {'sku_mismatch', meta[5]} end
local known = redis.call('HGET', KEYS[4], ARGV[3])
if known then return {'replay', known} end
local qty = tonumber(ARGV[2])
local held = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if held + qty > tonumber(meta[3]) then return {'limit', tostring(held)} end
if redis.call('LLEN', KEYS[2]) < qty then return {'sold_out', ''} end
local slots = table.concat(redis.call('LPOP', KEYS[2], qty), ',')
redis.call('HINCRBY', KEYS[3], ARGV[1], qty)
redis.call('HSET', KEYS[4], ARGV[3], table.concat({'queued', ARGV[1], qty, slots, now, ''}, '|'))
redis.call('XADD', KEYS[5], '*', 't', ARGV[3], 'm', ARGV[1], 'q', qty, 's', slots,
  'at', now, 'a', ARGV[5])
return {'ok', slots}
"""

# KEYS: units members tickets returned
# ARGV: ticket member quantity slots(csv) new_row ('' keeps the row)
# Returns 1 if the units went back now, 0 if they had already.
RETURN = """
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
for slot in string.gmatch(ARGV[4], '[^,]+') do redis.call('RPUSH', KEYS[1], slot) end
local left = redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[3]))
if left <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[5]) end
return 1
"""

# KEYS: meta units members tickets returned
# Recomputes the free slots and the member counters from the tickets (the record of what
# was sold) and repairs the list and the hash if they differ. Returns
# {total, free, pushed, removed, doubly_held, members_fixed}, or {-1} if not loaded.
REPAIR = """
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
if not total then return {-1} end
local held, members, doubly = {}, {}, 0
local rows = redis.call('HGETALL', KEYS[4])
for i = 1, #rows, 2 do
  if redis.call('SISMEMBER', KEYS[5], rows[i]) == 0 then
    local f = {}
    for part in string.gmatch(rows[i + 1] .. '|', '([^|]*)|') do f[#f + 1] = part end
    for slot in string.gmatch(f[4], '[^,]+') do
      if held[slot] then doubly = doubly + 1 end
      held[slot] = true
    end
    members[f[2]] = (members[f[2]] or 0) + tonumber(f[3])
  end
end
local units = redis.call('LRANGE', KEYS[2], 0, -1)
local seen, keep, removed = {}, {}, 0
for _, slot in ipairs(units) do
  if held[slot] or seen[slot] or tonumber(slot) >= total then
    removed = removed + 1
  else
    seen[slot] = true
    keep[#keep + 1] = slot
  end
end
local pushed = 0
for s = 0, total - 1 do
  local slot = tostring(s)
  if not held[slot] and not seen[slot] then
    keep[#keep + 1] = slot
    pushed = pushed + 1
  end
end
if removed > 0 or pushed > 0 then
  redis.call('DEL', KEYS[2])
  for i = 1, #keep, 5000 do
    redis.call('RPUSH', KEYS[2], unpack(keep, i, math.min(i + 4999, #keep)))
  end
end
local fixed = 0
local current = redis.call('HGETALL', KEYS[3])
for i = 1, #current, 2 do
  if tonumber(current[i + 1]) ~= (members[current[i]] or 0) then
    fixed = fixed + 1
    if members[current[i]] then
      redis.call('HSET', KEYS[3], current[i], members[current[i]])
    else
      redis.call('HDEL', KEYS[3], current[i])
    end
  end
  members[current[i]] = nil
end
for member, count in pairs(members) do
  fixed = fixed + 1
  redis.call('HSET', KEYS[3], member, count)
end
return {total, #keep, pushed, removed, doubly, fixed}
"""


def new_ticket(sale_id: uuid.UUID, token: str | None = None) -> str:
    """A fresh ticket, or (for a client's idempotency key) the same one every time."""
    if token is None:
        return f"{sale_id.hex}-{os.urandom(8).hex()}"
    return f"{sale_id.hex}-{hashlib.sha256(token.encode()).hexdigest()[:16]}"


def sale_of_ticket(ticket: str) -> uuid.UUID | None:
    if len(ticket) != 49 or ticket[32] != "-":
        return None
    try:
        int(ticket[33:], 16)
        return uuid.UUID(hex=ticket[:32])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SaleKeys:
    meta: str
    units: str
    members: str
    tickets: str
    returned: str
    stream: str

    @classmethod
    def of(cls, sale_id: uuid.UUID | str) -> "SaleKeys":
        tag = f"{{fs:{sale_id}}}"
        return cls(
            f"{tag}:meta",
            f"{tag}:units",
            f"{tag}:members",
            f"{tag}:tickets",
            f"{tag}:returned",
            f"{tag}:stream",
        )

    def all(self) -> list[str]:
        return [self.meta, self.units, self.members, self.tickets, self.returned, self.stream]


@dataclass(frozen=True, slots=True)
class TicketRow:
    """A ticket as Redis holds it."""

    status: str
    member_id: str
    quantity: int
    slots: list[int]
    at_ms: int
    extra: str

    @classmethod
    def parse(cls, raw: str) -> "TicketRow":
        status, member, quantity, slots, at_ms, extra = raw.split("|", 5)
        return cls(
            status,
            member,
            int(quantity),
            [int(s) for s in slots.split(",") if s],
            int(at_ms or 0),
            extra,
        )

    def encode(self) -> str:
        slots = ",".join(str(s) for s in self.slots)
        return f"{self.status}|{self.member_id}|{self.quantity}|{slots}|{self.at_ms}|{self.extra}"

    def with_status(self, status: str, extra: str) -> "TicketRow":
        return TicketRow(status, self.member_id, self.quantity, self.slots, self.at_ms, extra)


class Scripts:
    """The Lua steps, called by SHA (loaded again after a Redis restart)."""

    def __init__(self, redis: "Redis") -> None:
        self.redis = redis
        self._shas: dict[str, str] = {}

    async def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        sha = self._shas.get(script)
        if sha is not None:
            try:
                return await self.redis.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:
                pass
        self._shas[script] = await self.redis.script_load(script)
        return await self.redis.evalsha(self._shas[script], len(keys), *keys, *args)


async def ensure_group(redis: "Redis", stream: str) -> None:
    try:
        await redis.xgroup_create(stream, FORWARD_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
