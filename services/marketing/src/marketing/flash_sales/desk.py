"""The purchase step and the ticket lookup, shared by the raw ASGI fast path (``hot``) and
the FastAPI routes: a token check in process, then one Lua call (``store.PURCHASE``) over
the process's one pipelined Redis connection (``shared.redis_pipe``).

No database and no HTTP client here: a purchase is answered from Redis alone.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from prometheus_client import Counter
from shared.logging import get_logger
from shared.redis_pipe import RedisPipe, Script

from marketing.flash_sales import tokens
from marketing.flash_sales.store import PURCHASE, SaleKeys, TicketRow, new_ticket
from marketing.settings import MarketingSettings

log = get_logger(__name__)

PURCHASES = Counter(
    "flash_sale_purchases_total", "Flash-sale purchase attempts by outcome", ["outcome"]
)
UNREPLICATED = Counter(
    "flash_sale_unreplicated_total",
    "Accepted purchases a Redis replica did not acknowledge in time (WAIT)",
)
_PURCHASE = Script(PURCHASE)
_OUTCOMES = {
    outcome: PURCHASES.labels(outcome)
    for outcome in (
        "accepted", "replay", "token_invalid", "not_started", "ended", "closed", "sku_mismatch",
        "limit", "sold_out",
    )
}  # fmt: skip

# Lua refusal → (HTTP status, error code, message).
REFUSALS: dict[str, tuple[int, str, str]] = {
    "not_started": (409, "sale_not_started", "The flash sale has not started yet."),
    "ended": (409, "sale_ended", "The flash sale has ended."),
    "closed": (409, "sale_ended", "The flash sale is closed."),
    "sku_mismatch": (422, "sku_not_in_sale", "This SKU is not the one on sale."),
    "limit": (409, "purchase_limit_reached", "You have bought as many as this sale allows."),
    "sold_out": (409, "sold_out", "Sold out."),
}
TOKEN_REFUSAL = (
    403,
    "purchase_token_invalid",
    "A valid purchase token is required: fetch one from the sale shortly before buying.",
)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


def error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message, "details": details or []}})


def ticket_body(ticket: str, row: TicketRow) -> dict[str, Any]:
    body: dict[str, Any] = {"ticket": ticket, "status": row.status, "quantity": row.quantity}
    if row.status == "ordered":
        body["order_id"] = row.extra
    elif row.status == "rejected":
        body["reason"] = row.extra
    return body


class Desk:
    def __init__(self, pipe: RedisPipe, settings: MarketingSettings) -> None:
        self.pipe = pipe
        self._key = settings.flash_sale_token_key.encode()
        self._wait_replicas = settings.flash_sale_redis_wait_replicas
        self._wait_ms = settings.flash_sale_redis_wait_ms
        self._keys: dict[uuid.UUID, tuple[str, list[str]]] = {}  # sale → (sale id, its keys)

    def _sale(self, sale_id: uuid.UUID) -> tuple[str, list[str]]:
        known = self._keys.get(sale_id)
        if known is None:
            if len(self._keys) > 1000:
                self._keys.clear()
            k = SaleKeys.of(sale_id)
            known = self._keys[sale_id] = (
                str(sale_id),
                [k.meta, k.units, k.members, k.tickets, k.stream],
            )
        return known

    def token_ok(self, sale_id: uuid.UUID, member_id: str, token: str | None) -> bool:
        return token is not None and tokens.verify(self._key, str(sale_id), member_id, token)

    async def purchase(
        self,
        sale_id: uuid.UUID,
        member_id: str,
        sku_id: str,
        quantity: int,
        token: str | None,
        idempotency_key: str | None = None,
        address_id: str | None = None,
    ) -> Answer | None:
        """The answer, or None when the sale is not in Redis (not loaded yet, or Redis lost
        it): the caller then looks at PostgreSQL."""
        sale, keys = self._sale(sale_id)
        if token is None or not tokens.verify(self._key, sale, member_id, token):
            _OUTCOMES["token_invalid"].inc()
            return error(*TOKEN_REFUSAL)
        ticket = new_ticket(sale_id, f"{member_id}|{idempotency_key}" if idempotency_key else None)
        reply = await self.pipe.eval(
            _PURCHASE, keys, [member_id, quantity, ticket, sku_id, address_id or ""]
        )
        assert isinstance(reply, list)
        code = reply[0].decode()
        if code == "ok":
            _OUTCOMES["accepted"].inc()
            if self._wait_replicas:
                acked = await self.pipe.wait(self._wait_replicas, self._wait_ms)
                if acked < self._wait_replicas:
                    UNREPLICATED.inc()
                    log.warning("flash_sale.purchase_unreplicated", ticket=ticket, acked=acked)
            return Answer(202, {"ticket": ticket, "status": "queued"})
        if code == "replay":
            _OUTCOMES["replay"].inc()
            return Answer(202, ticket_body(ticket, TicketRow.parse(reply[1].decode())))
        if code == "not_loaded":
            return None
        _OUTCOMES[code].inc()
        status, err, message = REFUSALS[code]
        return error(status, err, message)

    async def ticket(self, sale_id: uuid.UUID, ticket: str, member_id: str) -> Answer | None:
        """The ticket's state from Redis, or None if Redis does not have it."""
        raw = await self.pipe.execute(b"HGET", self._sale(sale_id)[1][3], ticket)
        if raw is None:
            return None
        assert isinstance(raw, bytes)
        row = TicketRow.parse(raw.decode())
        if row.member_id != member_id:
            return None  # someone else's: the full stack answers 404
        return Answer(200, ticket_body(ticket, row))


def shared_desk(app: FastAPI, settings: MarketingSettings) -> Desk:
    """The process's one desk (and pipelined Redis connection), shared by the fast path and
    the FastAPI routes."""
    desk: Desk | None = getattr(app.state, "flash_desk", None)
    if desk is None:
        desk = app.state.flash_desk = Desk(RedisPipe(settings.redis_url), settings)
    return desk
