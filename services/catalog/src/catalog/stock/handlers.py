"""Order events, so that a lost HTTP call is made good: ``order.paid`` commits the order's
reservation, ``order.cancelled`` releases it, ``order.refunded`` with ``restock`` puts the
items back (an adjustment, reason ``refund_restock``, once per refund and SKU)."""

import uuid
from typing import Any

from shared.events import Event
from shared.inbox import Handler
from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.products.errors import SkuNotFound
from catalog.settings import CatalogSettings
from catalog.stock import service
from catalog.stock.errors import (
    ReservationCommitted,
    ReservationNotActive,
    ReservationNotFound,
)

log = get_logger(__name__)


def _order_id(event: Event) -> str | None:
    order_id = event.payload.get("order_id")
    if not order_id:
        log.warning("catalog.order_event_ignored", type=event.type, event_id=str(event.event_id))
        return None
    return str(order_id)


def stock_handlers(settings: CatalogSettings) -> dict[str, Handler]:
    async def order_paid(session: AsyncSession, event: Event) -> None:
        order_id = _order_id(event)
        if order_id is None:
            return
        try:
            await service.commit(session, order_id, allow_expired=True)
        except ReservationNotFound:
            log.info("catalog.paid_without_reservation", order_id=order_id)
        except ReservationNotActive:
            log.error("catalog.paid_after_release", order_id=order_id)

    async def order_cancelled(session: AsyncSession, event: Event) -> None:
        order_id = _order_id(event)
        if order_id is None:
            return
        try:
            await service.release(session, order_id, reason="cancelled")
        except ReservationCommitted:
            log.warning("catalog.cancel_after_commit", order_id=order_id)

    async def order_refunded(session: AsyncSession, event: Event) -> None:
        payload: dict[str, Any] = event.payload
        if not payload.get("restock"):
            return
        refund = str(payload.get("refund_id") or event.event_id)
        for item in payload.get("items") or []:
            try:
                sku_id, quantity = uuid.UUID(str(item["sku_id"])), int(item["quantity"])
            except (KeyError, ValueError, TypeError):
                log.warning("catalog.refund_item_ignored", item=item)
                continue
            if quantity <= 0:
                continue
            try:
                await service.adjust(
                    session,
                    sku_id,
                    quantity,
                    reason="refund_restock",
                    actor="order",
                    reference=f"refund:{refund}",
                    low_threshold=settings.low_stock_threshold,
                )
            except SkuNotFound:
                log.warning("catalog.refund_sku_unknown", sku_id=str(sku_id))

    return {
        "order.paid": order_paid,
        "order.cancelled": order_cancelled,
        "order.refunded": order_refunded,
    }
