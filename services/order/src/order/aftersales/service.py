"""After-sales: refund only, or return and refund, per line.

- A member asks for some units of some lines; the amount is those units' share of what was
  paid for the line (the last units of a line take the remainder, so a line never refunds
  more than it cost), plus the freight when nothing shipped and everything is refunded.
  The order goes ``refunding`` (shipping and completion wait).
- Staff approve (→ ``order.refund_requested``; payment refunds) or reject (the order
  returns to where it was).
- ``payment.refunded`` settles it: a full refund makes the order ``refunded``; a partial one
  returns it to where it was, with ``refunded_fen`` recording what went back.
  ``order.refunded`` tells catalog to restock (when staff said so; default for returns),
  and member to reverse the points the order earned, in proportion.
- Points spent on the order are not returned, and coupons are not returned on refunds
  (marketing returns coupons on cancellation only).
"""

import uuid
from datetime import UTC, datetime

from shared.errors import Conflict, NotFound, Unprocessable
from shared.outbox import add_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order.aftersales.schemas import AfterSaleIn, DecisionIn
from order.models import AfterSale, Order, OrderItem
from order.orders import lifecycle
from order.states import Status

OPEN = ("requested", "refunding")


class AfterSaleNotFound(NotFound):
    code = "after_sale_not_found"


class NothingToRefund(Unprocessable):
    code = "nothing_to_refund"


class AfterSaleClosed(Conflict):
    code = "after_sale_closed"


async def _open_quantities(session: AsyncSession, order_id: uuid.UUID) -> dict[str, int]:
    pending: dict[str, int] = {}
    rows = await session.scalars(
        select(AfterSale).where(AfterSale.order_id == order_id, AfterSale.status.in_(OPEN))
    )
    for sale in rows:
        for item in sale.items:
            pending[item["sku_id"]] = pending.get(item["sku_id"], 0) + int(item["quantity"])
    return pending


def _line_share(item: OrderItem, units: int) -> int:
    """What ``units`` more refunded units of a line are worth."""
    before = item.refunded_quantity
    after = before + units
    paid_until = item.paid_fen * after // item.quantity if after < item.quantity else item.paid_fen
    return paid_until - item.paid_fen * before // item.quantity


async def request(
    session: AsyncSession, order: Order, body: AfterSaleIn, member_id: uuid.UUID
) -> AfterSale:
    if order.status not in (Status.PAID, Status.SHIPPED, Status.COMPLETED, Status.REFUNDED):
        raise lifecycle_conflict(order.status)
    items = {str(i.sku_id): i for i in await lifecycle.items_of(session, order.id)}
    pending = await _open_quantities(session, order.id)
    amount = 0
    for want in body.items:
        line = items.get(str(want.sku_id))
        if line is None:
            raise NothingToRefund(f"{want.sku_id} is not in this order.")
        left = line.quantity - line.refunded_quantity - pending.get(str(want.sku_id), 0)
        if want.quantity > left:
            raise NothingToRefund(
                f"Only {left} of {want.sku_id} can still be refunded.",
                details=[{"sku_id": str(want.sku_id), "refundable": left}],
            )
        amount += _line_share(line, want.quantity)
    everything = all(
        line.refunded_quantity
        + pending.get(sku, 0)
        + sum(w.quantity for w in body.items if str(w.sku_id) == sku)
        == line.quantity
        for sku, line in items.items()
    )
    if everything and order.shipped_at is None:
        amount += order.freight_fen
    amount = min(amount, order.total_fen - order.refunded_fen)
    if amount <= 0:
        raise NothingToRefund("Nothing is left to refund for these items.")
    previous = order.status
    lifecycle.move(
        session, order, Status.REFUNDING, f"member:{member_id}", f"after-sale: {body.reason}"
    )
    sale = AfterSale(
        id=uuid.uuid4(),
        order_id=order.id,
        member_id=member_id,
        kind=body.kind,
        items=[{"sku_id": str(i.sku_id), "quantity": i.quantity} for i in body.items],
        amount_fen=amount,
        reason=body.reason,
        status="requested",
        previous_order_status=previous if previous != Status.REFUNDED else Status.REFUNDED,
    )
    session.add(sale)
    await session.flush()
    return sale


def lifecycle_conflict(status: str) -> Conflict:
    return AfterSaleClosed(f"An order that is {status} takes no after-sales request.")


async def locked_sale(session: AsyncSession, sale_id: uuid.UUID) -> AfterSale:
    sale = await session.scalar(select(AfterSale).where(AfterSale.id == sale_id).with_for_update())
    if sale is None:
        raise AfterSaleNotFound(f"No after-sales request {sale_id}.")
    return sale


async def approve(session: AsyncSession, sale: AfterSale, body: DecisionIn, actor: str) -> None:
    if sale.status != "requested":
        raise AfterSaleClosed(f"This request is already {sale.status}.")
    restock = body.restock if body.restock is not None else sale.kind == "return_refund"
    sale.status = "refunding"
    sale.decided_by, sale.decision_note = actor, body.note
    sale.updated_at = datetime.now(UTC)
    sale.items = [{**i, "restock": restock} for i in sale.items]
    add_event(
        session,
        "order.refund_requested",
        str(sale.order_id),
        {
            "order_id": str(sale.order_id),
            "member_id": str(sale.member_id),
            "refund_id": str(sale.id),
            "amount_fen": sale.amount_fen,
            "reason": sale.reason,
        },
    )


async def reject(session: AsyncSession, sale: AfterSale, body: DecisionIn, actor: str) -> None:
    if sale.status != "requested":
        raise AfterSaleClosed(f"This request is already {sale.status}.")
    order = await lifecycle.locked(session, sale.order_id)
    sale.status = "rejected"
    sale.decided_by, sale.decision_note = actor, body.note
    sale.updated_at = datetime.now(UTC)
    lifecycle.move(
        session,
        order,
        Status(sale.previous_order_status),
        actor,
        f"after-sale rejected: {body.note}",
    )


async def refunded(session: AsyncSession, refund_id: uuid.UUID, amount_fen: int) -> None:
    """payment.refunded: settle the after-sale and the order (idempotent by state)."""
    sale = await session.scalar(
        select(AfterSale).where(AfterSale.id == refund_id).with_for_update()
    )
    if sale is None or sale.status != "refunding":
        return
    order = await lifecycle.locked(session, sale.order_id)
    items = {str(i.sku_id): i for i in await lifecycle.items_of(session, order.id)}
    for entry in sale.items:
        items[entry["sku_id"]].refunded_quantity += int(entry["quantity"])
    sale.status = "refunded"
    sale.updated_at = datetime.now(UTC)
    order.refunded_fen = min(order.refunded_fen + amount_fen, order.total_fen)
    full = all(i.refunded_quantity == i.quantity for i in items.values())
    target = Status.REFUNDED if full else Status(sale.previous_order_status)
    lifecycle.move(session, order, target, "payment", f"refunded {amount_fen} fen")
    add_event(
        session,
        "order.refunded",
        str(order.id),
        {
            "order_id": str(order.id),
            "member_id": str(order.member_id),
            "refund_id": str(sale.id),
            "refund_fen": amount_fen,
            "paid_fen": order.total_fen,
            "items": [{"sku_id": i["sku_id"], "quantity": i["quantity"]} for i in sale.items],
            "restock": bool(sale.items and sale.items[0].get("restock")),
            "full": full,
        },
    )
