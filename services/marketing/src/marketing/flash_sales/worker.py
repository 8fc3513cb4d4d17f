"""The flash-sale background work, run in the marketing consumer process (every replica):

- **load**: sales starting within ``flash_sale_preload_s`` get their units held at catalog
  and their keys written to Redis;
- **forward**: accepted purchases (the Redis stream of each open sale, consumer group
  ``fwd``) are recorded as tickets in PostgreSQL with ``marketing.flash_sale_purchased`` in
  the outbox, in one transaction, then acknowledged; entries a dead forwarder left pending
  are claimed after 10 s;
- **rebuild**: a loaded sale whose keys Redis lost is rebuilt from PostgreSQL;
- **reconcile** (every ``flash_sale_reconcile_interval_s``, one process per sale at a
  time): Redis counters and tickets against PostgreSQL's tickets, tickets against order's
  orders, paid tickets against catalog commits; repairs what it can, counts every repair
  (``flash_sale_repairs_total``) and logs ``flash_sale.reconcile_repaired`` /
  ``flash_sale.oversold`` for the alerts;
- **settle**: after the end plus the payment window, paid units are committed at catalog
  and the rest released.
"""

import asyncio
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from shared.db import SessionMaker, create_sessionmaker
from shared.errors import AppError
from shared.http import UpstreamError
from shared.logging import get_logger
from shared.outbox import wait_or_stop
from shared.redis import create_redis
from sqlalchemy.ext.asyncio import AsyncEngine

from marketing.flash_sales import repository, service
from marketing.flash_sales.clients import FlashPeers, slot_key
from marketing.flash_sales.schemas import ReconcileReport, SaleCheck
from marketing.flash_sales.store import (
    FORWARD_GROUP,
    REPAIR,
    SaleKeys,
    Scripts,
    TicketRow,
    ensure_group,
)
from marketing.models import FlashSale, FlashSaleTicket
from marketing.settings import MarketingSettings

log = get_logger(__name__)

REPAIRS = Counter("flash_sale_repairs_total", "Flash-sale discrepancies repaired", ["kind"])
REBUILDS = Counter(
    "flash_sale_redis_rebuilds_total", "Flash sales rebuilt in Redis from PostgreSQL"
)
OVERSOLD = Counter("flash_sale_oversold_total", "Flash-sale slots found held by two tickets")
FORWARDED = Counter("flash_sale_forwarded_total", "Accepted purchases recorded in PostgreSQL")
REMAINING = Gauge("flash_sale_remaining_units", "Units left in Redis", ["sale_id"])

PAID_STATUSES = {"paid", "shipped", "completed", "refunding", "refunded"}
CLAIM_IDLE_MS = 10_000
LOAD_RETRY_S = 15.0


class FlashSaleWorker:
    def __init__(
        self,
        settings: MarketingSettings,
        sessionmaker: SessionMaker,
        redis: "Redis",
        peers: FlashPeers,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.peers = peers
        self.scripts = Scripts(redis)
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self._open: dict[str, FlashSale] = {}  # stream key → sale
        self._load_attempts: dict[uuid.UUID, float] = {}
        self._last_claim = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self._main(stop), self._forwarding(stop))

    async def _main(self, stop: asyncio.Event) -> None:
        last_reconcile = 0.0
        while not stop.is_set():
            try:
                await self.load_due()
                await self.refresh_open()
                await self.rebuild_missing()
                if (
                    time.monotonic() - last_reconcile
                    >= self.settings.flash_sale_reconcile_interval_s
                ):
                    last_reconcile = time.monotonic()
                    await self.reconcile_all()
                    await self.settle_due()
            except Exception as exc:  # a server away: next round
                log.warning("flash_sale.worker_failed", error=repr(exc))
            await wait_or_stop(stop, self.settings.flash_sale_loop_interval_s)

    async def _forwarding(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if not self._open:
                    await wait_or_stop(stop, 0.2)
                    continue
                await self.forward_once(block_ms=200)
            except Exception as exc:
                log.warning("flash_sale.forward_failed", error=repr(exc))
                await wait_or_stop(stop, 1.0)

    # --- loading and rebuilding ---

    async def load_due(self) -> None:
        now = service.now_utc()
        horizon = now + timedelta(seconds=self.settings.flash_sale_preload_s)
        async with self.sessionmaker() as session:
            due = await repository.due_for_loading(session, horizon, now)
        for sale in due:
            last = self._load_attempts.get(sale.id, 0.0)
            if sale.load_error and time.monotonic() - last < LOAD_RETRY_S:
                continue
            self._load_attempts[sale.id] = time.monotonic()
            try:
                async with self.sessionmaker() as session, session.begin():
                    locked = await repository.sale(session, sale.id, lock=True)
                    if locked is not None and locked.loaded_at is None:
                        await service.load(session, self.redis, self.peers, locked)
            except (AppError, OSError) as exc:
                log.warning("flash_sale.load_retry_later", sale_id=str(sale.id), error=repr(exc))

    async def refresh_open(self) -> None:
        async with self.sessionmaker() as session:
            sales = await repository.open_sales(session)
        self._open = {SaleKeys.of(s.id).stream: s for s in sales if s.loaded_at is not None}

    async def rebuild_missing(self) -> None:
        for sale in list(self._open.values()):
            if await self.redis.exists(SaleKeys.of(sale.id).meta):
                continue
            await self.rebuild(sale)

    async def rebuild(self, sale: FlashSale) -> bool:
        async with self.sessionmaker() as session:
            recorded = await repository.tickets(session, sale.id)
        rebuilt = await service.build_redis(self.redis, sale, recorded)
        if rebuilt:
            REBUILDS.inc()
            log.error(
                "flash_sale.redis_rebuilt",
                sale_id=str(sale.id),
                tickets=len(recorded),
                note="the sale's keys were missing in Redis; rebuilt from PostgreSQL",
            )
        return rebuilt

    # --- forwarding ---

    async def forward_once(self, block_ms: int = 0) -> int:
        streams = dict.fromkeys(self._open, ">")
        batches: list[tuple[str, list[tuple[str, dict[str, str]]]]] = []
        if time.monotonic() - self._last_claim > 5:
            self._last_claim = time.monotonic()
            for stream in streams:
                try:
                    claimed = await self.redis.xautoclaim(
                        stream, FORWARD_GROUP, self.name, CLAIM_IDLE_MS, "0-0", count=500
                    )
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    await ensure_group(self.redis, stream)
                    continue
                if claimed[1]:
                    batches.append((stream, claimed[1]))
        try:
            replies: Any = await self.redis.xreadgroup(
                FORWARD_GROUP,
                self.name,
                streams,  # type: ignore[arg-type]
                count=500,
                block=block_ms or None,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            for stream in streams:
                await ensure_group(self.redis, stream)
            return 0
        batches += [(str(stream), list(entries)) for stream, entries in replies or []]
        done = 0
        for stream, entries in batches:
            sale = self._open.get(stream)
            if sale is not None and entries:
                done += await self._record(stream, sale, entries)
        return done

    async def _record(
        self, stream: str, sale: FlashSale, entries: list[tuple[str, dict[str, str]]]
    ) -> int:
        rows: list[dict[str, Any]] = []
        for _, fields in entries:
            if not fields:  # deleted meanwhile
                continue
            rows.append(
                {
                    "ticket": fields["t"],
                    "sale_id": sale.id,
                    "member_id": uuid.UUID(fields["m"]),
                    "quantity": int(fields["q"]),
                    "slots": [int(s) for s in fields["s"].split(",") if s],
                    "address_id": uuid.UUID(fields["a"]) if fields.get("a") else None,
                    "status": "queued",
                    "purchased_at": datetime.fromtimestamp(int(fields["at"]) / 1000, UTC),
                }
            )
        async with self.sessionmaker() as session, session.begin():
            inserted = await repository.record_tickets(session, rows)
            for row in rows:
                if row["ticket"] in inserted:
                    service.publish_intent(session, sale, FlashSaleTicket(**row))
        ids = [entry_id for entry_id, _ in entries]
        await self.redis.xack(stream, FORWARD_GROUP, *ids)
        await self.redis.xdel(stream, *ids)
        FORWARDED.inc(len(inserted))
        return len(inserted)

    # --- reconciliation ---

    async def reconcile_all(self) -> ReconcileReport:
        checks = []
        async with self.sessionmaker() as session:
            sales = await repository.open_sales(session)
        for sale in sales:
            if sale.loaded_at is None:
                continue
            check = await self.reconcile(sale.id)
            if check is not None:
                checks.append(check)
        return ReconcileReport(sales=checks)

    async def reconcile(self, sale_id: uuid.UUID) -> SaleCheck | None:
        """Compare and repair one sale (None: another process is at it)."""
        async with self.sessionmaker() as session, session.begin():
            if not await repository.try_sale_lock(session, sale_id):
                return None
            sale = await repository.sale(session, sale_id)
            if sale is None:
                return None
            check = SaleCheck(sale_id=sale.id, loaded=sale.loaded_at is not None,
                              total_units=sale.total_units)  # fmt: skip
            if sale.loaded_at is None:
                return check
            k = SaleKeys.of(sale.id)
            if not await self.redis.exists(k.meta):
                check.rebuilt = await self.rebuild(sale)
            recorded = {t.ticket: t for t in await repository.tickets(session, sale.id)}
            await self._tickets_vs_redis(session, sale, recorded, check)
            await self._slots(sale, check)
            await self._tickets_vs_orders(session, sale, recorded, check)
            await self._stock(recorded, check)
            check.pg_held = sum(t.quantity for t in recorded.values() if t.returned_at is None)
        self._report(check)
        return check

    async def _tickets_vs_redis(
        self, session: Any, sale: FlashSale, recorded: dict[str, FlashSaleTicket], check: SaleCheck
    ) -> None:
        k = SaleKeys.of(sale.id)
        in_redis = {
            str(t): TicketRow.parse(str(raw))
            for t, raw in (await self.redis.hgetall(k.tickets)).items()
        }
        returned = set(await self.redis.smembers(k.returned))
        for ticket, t in recorded.items():
            row = in_redis.get(ticket)
            truth = service.ticket_row(t)
            if row is None or (row.status == "queued" and t.status != "queued"):
                await self.redis.hset(k.tickets, ticket, truth.encode())
                check.tickets_restored_to_redis += row is None
            if t.returned_at is not None and ticket not in returned:
                await service.return_units(self.redis, t)
                check.tickets_returned += 1
        cutoff = (time.time() - self.settings.flash_sale_requeue_after_s) * 1000
        lost = [
            (ticket, row) for ticket, row in in_redis.items()
            if ticket not in recorded and row.at_ms < cutoff
        ]  # fmt: skip
        if lost:
            # Accepted by Redis but never recorded: the stream entry is gone. Record it now.
            rows = [
                {
                    "ticket": ticket,
                    "sale_id": sale.id,
                    "member_id": uuid.UUID(row.member_id),
                    "quantity": row.quantity,
                    "slots": row.slots,
                    "status": "queued",
                    "purchased_at": datetime.fromtimestamp(row.at_ms / 1000, UTC),
                    "recorded_at": service.now_utc(),
                }
                for ticket, row in lost
            ]
            inserted = await repository.record_tickets(session, rows)
            for r in rows:
                if r["ticket"] in inserted:
                    t = FlashSaleTicket(**r)
                    service.publish_intent(session, sale, t)
                    recorded[t.ticket] = t
            check.tickets_recorded_from_redis += len(inserted)

    async def _slots(self, sale: FlashSale, check: SaleCheck) -> None:
        k = SaleKeys.of(sale.id)
        reply = await self.scripts.call(
            REPAIR, [k.meta, k.units, k.members, k.tickets, k.returned], []
        )
        if int(reply[0]) < 0:
            check.problems.append("sale not in Redis")
            return
        total, free, pushed, removed, doubly, fixed = (int(v) for v in reply)
        check.redis_free, check.redis_held = free, total - free
        check.slots_pushed, check.slots_removed = pushed, removed
        check.doubly_held, check.members_fixed = doubly, fixed
        REMAINING.labels(str(sale.id)).set(free)

    async def _tickets_vs_orders(
        self, session: Any, sale: FlashSale, recorded: dict[str, FlashSaleTicket], check: SaleCheck
    ) -> None:
        try:
            orders = {o.ticket: o for o in await self.peers.orders.of_sale(sale.id)}
        except (AppError, OSError) as exc:
            check.problems.append(f"orders unavailable: {exc}")
            return
        now = service.now_utc()
        requeue_before = now - timedelta(seconds=self.settings.flash_sale_requeue_after_s)
        k = SaleKeys.of(sale.id)
        for ticket, t in recorded.items():
            order = orders.get(ticket)
            if order is None:
                if t.status == "ordered":
                    check.orders_missing += 1
                elif t.status == "queued" and service.requeue_due(
                    t.recorded_at,
                    t.requeued_at,
                    now,
                    self.settings.flash_sale_requeue_after_s,
                    self.settings.flash_sale_requeue_max_s,
                ):
                    # The intent (or its answer) was lost on the way: publish it again;
                    # order creation is idempotent by ticket.
                    service.publish_intent(session, sale, t)
                    t.requeued_at = now
                    check.tickets_requeued += 1
                continue
            settled = (t.requeued_at or t.recorded_at) < requeue_before  # not an event in flight
            if (t.status == "queued" and settled) or (
                t.status == "ordered" and t.order_id != order.order_id
            ):
                t.status, t.order_id = "ordered", order.order_id
                await self.redis.hset(k.tickets, ticket, service.ticket_row(t).encode())
                check.tickets_marked_ordered += 1
            if order.status == "cancelled" and t.returned_at is None:
                t.returned_at = service.now_utc()
                await service.return_units(self.redis, t)
                check.tickets_returned += 1
            if order.status in PAID_STATUSES and t.paid_at is None:
                t.paid_at = service.now_utc()
                check.tickets_marked_paid += 1
        await session.flush()

    async def _stock(self, recorded: dict[str, FlashSaleTicket], check: SaleCheck) -> None:
        for t in recorded.values():
            if t.paid_at is None or t.committed_at is not None:
                continue
            try:
                for slot in t.slots:
                    await self.peers.catalog.commit(slot_key(t.sale_id, slot))
            except (AppError, OSError) as exc:
                check.problems.append(f"catalog commit of {t.ticket} failed: {exc}")
                continue
            t.committed_at = service.now_utc()
            check.slots_committed += len(t.slots)

    def _report(self, check: SaleCheck) -> None:
        repairs = {
            "redis_rebuilt": int(check.rebuilt),
            "slots_pushed": check.slots_pushed,
            "slots_removed": check.slots_removed,
            "members_fixed": check.members_fixed,
            "tickets_restored_to_redis": check.tickets_restored_to_redis,
            "tickets_recorded_from_redis": check.tickets_recorded_from_redis,
            "tickets_requeued": check.tickets_requeued,
            "tickets_marked_ordered": check.tickets_marked_ordered,
            "tickets_returned": check.tickets_returned,
            "tickets_marked_paid": check.tickets_marked_paid,
        }
        for kind, n in repairs.items():
            if n:
                REPAIRS.labels(kind).inc(n)
        if check.doubly_held:
            OVERSOLD.inc(check.doubly_held)
            log.critical("flash_sale.oversold", sale_id=str(check.sale_id), slots=check.doubly_held)
        if any(repairs.values()) or check.orders_missing:
            log.error(
                "flash_sale.reconcile_repaired",
                sale_id=str(check.sale_id),
                orders_missing=check.orders_missing,
                **{k: v for k, v in repairs.items() if v},
            )
        if check.problems:
            log.warning("flash_sale.reconcile_problems", sale_id=str(check.sale_id),
                        problems=check.problems)  # fmt: skip

    # --- settlement ---

    async def settle_due(self) -> None:
        now = service.now_utc()
        async with self.sessionmaker() as session:
            sales = await repository.open_sales(session)
        for sale in sales:
            closes = sale.ends_at + timedelta(
                seconds=sale.payment_window_s + self.settings.flash_sale_settle_grace_s
            )
            if sale.status == "cancelled" or now >= closes:
                await self.settle(sale.id)

    async def settle(self, sale_id: uuid.UUID) -> bool:
        """Release every unit not paid for at catalog; then the sale is settled."""
        async with self.sessionmaker() as session, session.begin():
            if not await repository.try_sale_lock(session, sale_id):
                return False
            sale = await repository.sale(session, sale_id, lock=True)
            if sale is None or sale.settled_at is not None:
                return False
            recorded = await repository.tickets(session, sale.id)
            waiting = [
                t for t in recorded
                if t.status == "queued" or (t.status == "ordered" and t.paid_at is None
                                            and t.returned_at is None)
            ]  # fmt: skip
            if waiting:
                log.info("flash_sale.settle_waiting", sale_id=str(sale.id), tickets=len(waiting))
                return False
            sold = {s for t in recorded if t.paid_at is not None for s in t.slots}
            if any(t.paid_at is not None and t.committed_at is None for t in recorded):
                return False  # the reconciler commits them first
            for slot in range(sale.total_units):
                if slot in sold:
                    continue
                try:
                    await self.peers.catalog.release(slot_key(sale.id, slot))
                except UpstreamError as exc:
                    if exc.code != "reservation_committed":
                        raise
            await repository.mark_settled(session, sale.id, service.now_utc())
            await service.close_in_redis(self.redis, sale.id)
        log.info("flash_sale.settled", sale_id=str(sale_id), sold=len(sold))
        return True


async def run(engine: AsyncEngine, stop: asyncio.Event) -> None:
    """The consumer process's background loop for flash sales."""
    settings = MarketingSettings()
    redis = create_redis(settings.redis_url)
    peers = FlashPeers.build(settings)
    try:
        await FlashSaleWorker(settings, create_sessionmaker(engine), redis, peers).run(stop)
    finally:
        await peers.aclose()
        await redis.aclose()
