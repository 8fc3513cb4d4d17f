"""Flash-sale rules outside the purchase step: scheduling, loading (catalog holds and the
Redis keys), the Redis rebuild from PostgreSQL, tokens, the fallbacks of the fast path, and
giving units back."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError
from shared.errors import AppError
from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from marketing.flash_sales import repository, tokens
from marketing.flash_sales.clients import FlashPeers, slot_key
from marketing.flash_sales.desk import Desk
from marketing.flash_sales.errors import (
    FlashSaleNotFound,
    FlashSaleUnavailable,
    Refused,
    SaleEnded,
    SaleNotCancellable,
    SaleNotStarted,
    SkuUnavailable,
    TicketNotFound,
    TokenNotYet,
)
from marketing.flash_sales.schemas import (
    FlashSaleAdminRead,
    FlashSaleCreate,
    FlashSaleRead,
    PurchaseIn,
    SaleStatus,
    TicketCounts,
    TicketOut,
    TokenOut,
)
from marketing.flash_sales.store import RETURN, SaleKeys, Scripts, TicketRow, ensure_group
from marketing.models import FlashSale, FlashSaleTicket
from marketing.settings import MarketingSettings

log = get_logger(__name__)

PURCHASED_EVENT = "marketing.flash_sale_purchased"
HOLD_CONCURRENCY = 8
HOLD_MARGIN_S = 86_400  # catalog holds outlive the sale; settlement releases them


def now_utc() -> datetime:
    return datetime.now(UTC)


def requeue_due(
    recorded_at: datetime,
    requeued_at: datetime | None,
    now: datetime,
    after_s: float,
    max_s: float,
) -> bool:
    """Whether a queued ticket with no order is published again now: ``after_s`` after it
    was recorded, then after waits that double (each as long as the ticket had waited
    before), at most ``max_s`` apart. A long outage of order's consumers therefore adds a
    few copies of each intent to Kafka, not one every ``after_s``."""
    last = requeued_at or recorded_at
    wait = max(after_s, min((last - recorded_at).total_seconds(), max_s))
    return (now - last).total_seconds() >= wait


def status_of(sale: FlashSale, now: datetime) -> SaleStatus:
    if sale.status == "cancelled":
        return "cancelled"
    if now < sale.starts_at:
        return "upcoming"
    return "running" if now < sale.ends_at else "ended"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def public_read(sale: FlashSale, remaining: int | None, now: datetime) -> FlashSaleRead:
    return FlashSaleRead(
        id=sale.id,
        name=sale.name,
        sku_id=sale.sku_id,
        price_fen=sale.price_fen,
        total_units=sale.total_units,
        remaining_units=sale.total_units if remaining is None else remaining,
        per_member_limit=sale.per_member_limit,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        status=status_of(sale, now),
    )


def admin_read(
    sale: FlashSale, remaining: int | None, counts: dict[str, int], now: datetime
) -> FlashSaleAdminRead:
    return FlashSaleAdminRead(
        **public_read(sale, remaining, now).model_dump(),
        payment_window_s=sale.payment_window_s,
        loaded_at=sale.loaded_at,
        load_error=sale.load_error,
        settled_at=sale.settled_at,
        created_by=sale.created_by,
        created_at=sale.created_at,
        tickets=TicketCounts(**counts),
    )


async def remaining_units(redis: "Redis", sales: list[FlashSale]) -> dict[uuid.UUID, int | None]:
    """Units left per sale from Redis (None: not in Redis, i.e. not loaded yet)."""
    if not sales:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for sale in sales:
            pipe.exists(SaleKeys.of(sale.id).meta)
            pipe.llen(SaleKeys.of(sale.id).units)
        replies = await pipe.execute()
    return {
        sale.id: int(replies[2 * i + 1]) if replies[2 * i] else None for i, sale in enumerate(sales)
    }


async def create(
    session: AsyncSession, peers: FlashPeers, body: FlashSaleCreate, staff_id: str
) -> FlashSale:
    now = now_utc()
    if body.ends_at <= now:
        raise SkuUnavailable("The sale would end in the past.")
    sku = await peers.catalog.sku(body.sku_id)
    if sku is None or sku.status != "on_sale":
        raise SkuUnavailable(
            "The SKU is unknown or not on sale.", details=[{"sku_id": str(body.sku_id)}]
        )
    sale = FlashSale(
        id=uuid.uuid4(),
        name=body.name,
        sku_id=body.sku_id,
        price_fen=body.price_fen,
        total_units=body.total_units,
        per_member_limit=body.per_member_limit,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        payment_window_s=body.payment_window_s,
        status="scheduled",
        created_by=f"staff:{staff_id}",
        created_at=now,
    )
    session.add(sale)
    await session.flush()
    return sale


def due_for_loading(sale: FlashSale, settings: MarketingSettings, now: datetime) -> bool:
    return (
        sale.status == "scheduled"
        and sale.loaded_at is None
        and sale.starts_at - timedelta(seconds=settings.flash_sale_preload_s) <= now < sale.ends_at
    )


async def hold_units(peers: FlashPeers, sale: FlashSale) -> None:
    """Reserve each unit at catalog (one reservation per slot; idempotent by key)."""
    ttl = sale.ends_at + timedelta(seconds=sale.payment_window_s + HOLD_MARGIN_S) - now_utc()
    ttl_s = max(int(ttl.total_seconds()), 60)
    gate = asyncio.Semaphore(HOLD_CONCURRENCY)

    async def hold(slot: int) -> None:
        async with gate:
            await peers.catalog.hold(slot_key(sale.id, slot), sale.sku_id, ttl_s)

    await asyncio.gather(*(hold(s) for s in range(sale.total_units)))


async def load(
    session: AsyncSession, redis: "Redis", peers: FlashPeers, sale: FlashSale
) -> str | None:
    """Hold the units at catalog, then put the sale into Redis. Caller commits. Returns
    the reason it could not (recorded in ``load_error``), or None."""
    try:
        await hold_units(peers, sale)
    except (AppError, OSError) as exc:
        error = f"the units could not be held at catalog: {exc}"
        await repository.mark_load_failed(session, sale.id, error)
        log.error("flash_sale.load_failed", sale_id=str(sale.id), error=repr(exc))
        return error
    await build_redis(redis, sale, await repository.tickets(session, sale.id))
    await repository.mark_loaded(session, sale.id, now_utc())
    log.info("flash_sale.loaded", sale_id=str(sale.id), units=sale.total_units)
    return None


def ticket_row(t: FlashSaleTicket) -> TicketRow:
    extra = str(t.order_id) if t.status == "ordered" else (t.reason or "")
    return TicketRow(
        t.status, str(t.member_id), t.quantity, list(t.slots), _ms(t.purchased_at), extra
    )


async def build_redis(redis: "Redis", sale: FlashSale, recorded: list[FlashSaleTicket]) -> bool:
    """Write the sale's keys from PostgreSQL's tickets, atomically, unless they exist.

    Used to load a sale and to rebuild it after Redis lost it. ``meta`` is watched: if
    another process wrote the keys meanwhile, nothing is written (False)."""
    k = SaleKeys.of(sale.id)
    held: set[int] = set()
    members: dict[str, int] = {}
    returned: list[str] = []
    for t in recorded:
        if t.returned_at is not None:
            returned.append(t.ticket)
            continue
        held.update(t.slots)
        members[str(t.member_id)] = members.get(str(t.member_id), 0) + t.quantity
    free = [s for s in range(sale.total_units) if s not in held]
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(k.meta)
            if await pipe.exists(k.meta):
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.delete(k.units, k.members, k.tickets, k.returned)
            for i in range(0, len(free), 5000):
                pipe.rpush(k.units, *free[i : i + 5000])
            if members:
                pipe.hset(k.members, mapping=dict(members.items()))
            if recorded:
                pipe.hset(k.tickets, mapping={t.ticket: ticket_row(t).encode() for t in recorded})
            if returned:
                pipe.sadd(k.returned, *returned)
            pipe.hset(
                k.meta,
                mapping={
                    "starts_ms": _ms(sale.starts_at),
                    "ends_ms": _ms(sale.ends_at),
                    "limit": sale.per_member_limit,
                    "total": sale.total_units,
                    "sku": str(sale.sku_id),
                    "state": "open" if sale.status == "scheduled" else "closed",
                },
            )
            await pipe.execute()
        except WatchError:
            return False
    await ensure_group(redis, k.stream)
    return True


async def close_in_redis(redis: "Redis", sale_id: uuid.UUID) -> None:
    meta = SaleKeys.of(sale_id).meta
    if await redis.exists(meta):
        await redis.hset(meta, "state", "closed")


async def return_units(
    redis: "Redis", t: FlashSaleTicket, new_row: TicketRow | None = None
) -> bool:
    """Give a ticket's units back to the sale in Redis, once (True if now)."""
    k = SaleKeys.of(t.sale_id)
    done = await Scripts(redis).call(
        RETURN,
        [k.units, k.members, k.tickets, k.returned],
        [
            t.ticket,
            str(t.member_id),
            t.quantity,
            ",".join(str(s) for s in t.slots),
            new_row.encode() if new_row else "",
        ],
    )
    return bool(done)


def purchased_payload(sale: FlashSale, t: FlashSaleTicket) -> dict[str, Any]:
    return {
        "ticket": t.ticket,
        "sale_id": str(sale.id),
        "member_id": str(t.member_id),
        "sku_id": str(sale.sku_id),
        "quantity": t.quantity,
        "price_fen": sale.price_fen,
        "payment_window_s": sale.payment_window_s,
        "address_id": str(t.address_id) if t.address_id else None,
        "purchased_at": t.purchased_at.isoformat(),
    }


def publish_intent(session: AsyncSession, sale: FlashSale, t: FlashSaleTicket) -> None:
    add_event(session, PURCHASED_EVENT, t.ticket, purchased_payload(sale, t))


async def get_sale(session: AsyncSession, sale_id: uuid.UUID) -> FlashSale:
    sale = await repository.sale(session, sale_id)
    if sale is None:
        raise FlashSaleNotFound("No such flash sale.")
    return sale


def issue_token(sale: FlashSale, member_id: str, settings: MarketingSettings) -> TokenOut:
    now = now_utc()
    if sale.status != "scheduled" or now >= sale.ends_at:
        raise SaleEnded("The flash sale has ended.")
    opens = sale.starts_at - timedelta(seconds=settings.flash_sale_token_lead_s)
    if now < opens:
        raise TokenNotYet(
            f"Purchase tokens are given from {settings.flash_sale_token_lead_s} s"
            " before the start.",
            details=[{"available_from": opens.isoformat()}],
        )
    token, expires = tokens.issue(
        settings.flash_sale_token_key.encode(),
        str(sale.id),
        member_id,
        settings.flash_sale_token_ttl_s,
    )
    return TokenOut(token=token, expires_at=datetime.fromtimestamp(expires, UTC))


async def purchase(
    session: AsyncSession,
    desk: Desk,
    sale_id: uuid.UUID,
    member_id: str,
    body: PurchaseIn,
    token: str | None,
    idempotency_key: str | None,
) -> TicketOut:
    """The full-stack purchase: the same Redis step, with PostgreSQL to explain a sale that
    Redis does not hold."""
    sale = await get_sale(session, sale_id)
    if sale.status == "cancelled":
        raise SaleEnded("The flash sale was cancelled.")
    answer = await desk.purchase(
        sale_id,
        member_id,
        str(body.sku_id),
        body.quantity,
        body.token or token,
        idempotency_key,
        str(body.address_id) if body.address_id else None,
    )
    if answer is None:
        now = now_utc()
        if now < sale.starts_at:
            raise SaleNotStarted("The flash sale has not started yet.")
        if now >= sale.ends_at:
            raise SaleEnded("The flash sale has ended.")
        raise FlashSaleUnavailable(
            "The flash sale is being prepared; try again in a moment.",
            headers={"Retry-After": "1"},
        )
    if answer.status >= 400:
        err = answer.body["error"]
        raise Refused(answer.status, err["code"], err["message"])
    return TicketOut.model_validate(answer.body)


async def ticket_status(
    session: AsyncSession, desk: Desk, ticket_id: str, member_id: str
) -> TicketOut:
    from marketing.flash_sales.store import sale_of_ticket

    sale_id = sale_of_ticket(ticket_id)
    if sale_id is None:
        raise TicketNotFound("No such ticket.")
    answer = await desk.ticket(sale_id, ticket_id, member_id)
    if answer is not None:
        return TicketOut.model_validate(answer.body)
    t = await repository.ticket(session, ticket_id)
    if t is None or str(t.member_id) != member_id:
        raise TicketNotFound("No such ticket.")
    return TicketOut(
        ticket=t.ticket,
        status=t.status,
        quantity=t.quantity,
        order_id=str(t.order_id) if t.order_id else None,
        reason=t.reason,
    )


async def cancel(session: AsyncSession, redis: "Redis", sale_id: uuid.UUID) -> FlashSale:
    """Staff stop a sale before or while it runs: no more purchases; tickets already taken
    keep their orders; unsold units are released at settlement."""
    sale = await repository.sale(session, sale_id, lock=True)
    if sale is None:
        raise FlashSaleNotFound("No such flash sale.")
    if sale.status == "cancelled":
        return sale
    if sale.ends_at <= now_utc():
        raise SaleNotCancellable("The flash sale has already ended.")
    sale.status = "cancelled"
    await session.flush()
    await close_in_redis(redis, sale.id)
    return sale
