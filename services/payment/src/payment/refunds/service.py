"""Refunds: recorded from ``order.refund_requested`` (or for a payment that arrived after the
order was cancelled), submitted to WeChat by the settler with an ``out_refund_no`` derived
from the refund id (the same on every retry), settled by the refund notification or a query.
``payment.refunded`` is published once, when a requested refund succeeds."""

import uuid
from datetime import UTC, datetime

from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from payment.models import Payment, PaymentStatus, Refund, RefundKind, RefundStatus
from payment.payments import repository as payments
from payment.refunds import repository
from payment.refunds.errors import RefundWithoutPayment
from payment.wechatpay.models import RefundStatus as WeChatRefundStatus

log = get_logger(__name__)


async def request_after_sale(
    session: AsyncSession,
    order_id: uuid.UUID,
    refund_id: uuid.UUID,
    amount_fen: int,
    reason: str | None,
) -> None:
    payment = await payments.locked_by_order(session, order_id)
    if payment is None or payment.status not in (PaymentStatus.PAID, PaymentStatus.FLAGGED):
        raise RefundWithoutPayment(f"No payment received for order {order_id}.")
    if await repository.insert_if_missing(
        session,
        payment_id=payment.id,
        order_id=order_id,
        refund_id=refund_id,
        kind=RefundKind.AFTER_SALE,
        amount_fen=amount_fen,
        reason=(reason or "")[:80] or None,
    ):
        log.info("payment.refund_requested", order_id=str(order_id), refund_id=str(refund_id))


async def refund_cancelled_order(session: AsyncSession, payment: Payment) -> None:
    """Money arrived for a cancelled order: give all of it back (once)."""
    if await repository.of_kind_for_payment(session, payment.id, RefundKind.CANCELLED_ORDER):
        return
    refund_id = uuid.uuid5(payment.id, "cancelled-order-refund")
    await repository.insert_if_missing(
        session,
        payment_id=payment.id,
        order_id=payment.order_id,
        refund_id=refund_id,
        kind=RefundKind.CANCELLED_ORDER,
        amount_fen=int(payment.paid_fen or payment.amount_fen),
        reason="订单已取消",
    )
    log.warning(
        "payment.paid_after_cancellation",
        order_id=str(payment.order_id),
        out_trade_no=payment.out_trade_no,
        refund_id=str(refund_id),
    )


def apply_wechat_status(
    session: AsyncSession,
    refund: Refund,
    status: WeChatRefundStatus,
    wechat_refund_id: str | None,
    success_time: datetime | None,
) -> None:
    """WeChat's word on a refund (answer, query or notification); refund is locked."""
    if wechat_refund_id:
        refund.wechat_refund_id = wechat_refund_id
    if refund.status in (RefundStatus.SUCCEEDED, RefundStatus.CLOSED, RefundStatus.ABNORMAL):
        return  # settled already: a later copy of the news changes nothing
    if status == "PROCESSING":
        refund.status = RefundStatus.PROCESSING
        return
    if status == "SUCCESS":
        refund.status = RefundStatus.SUCCEEDED
        refund.succeeded_at = success_time or datetime.now(UTC)
        log.info("payment.refund_succeeded", order_id=str(refund.order_id), kind=refund.kind)
        if refund.kind == RefundKind.AFTER_SALE:
            add_event(
                session,
                "payment.refunded",
                str(refund.order_id),
                {
                    "order_id": str(refund.order_id),
                    "refund_id": str(refund.refund_id),
                    "amount_fen": refund.amount_fen,
                },
            )
        return
    refund.status = RefundStatus.ABNORMAL if status == "ABNORMAL" else RefundStatus.CLOSED
    log.error(
        "payment.refund_alert",
        order_id=str(refund.order_id),
        out_refund_no=refund.out_refund_no,
        wechat_status=status,
    )
