"""Payments: prepay (amount, deadline and owner from order, one out_trade_no per order, a
live prepay_id reused) and recording what WeChat says happened, once, under a row lock —
whether a notification or an active query tells us first."""

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.http import UpstreamError
from shared.logging import get_logger
from shared.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from payment.deps import Services
from payment.models import Payment, PaymentStatus
from payment.payments import repository
from payment.payments.errors import (
    OrderNotPayable,
    PayerUnknown,
    PaymentAlreadyMade,
    PaymentOrderNotFound,
)
from payment.payments.schemas import PrepayOut
from payment.refunds import service as refunds
from payment.wechatpay.config import WeChatPayConfig
from payment.wechatpay.errors import WeChatPayOrderClosed, WeChatPayOrderPaid
from payment.wechatpay.models import JsapiPrepay, Payer, PrepayAmount, Transaction

log = get_logger(__name__)

PREPAY_LIFETIME = timedelta(hours=2)
PENDING_PAYMENT = "pending_payment"


class Recorded(StrEnum):
    PAID = "paid"
    DUPLICATE = "duplicate"
    FLAGGED = "flagged"
    REFUNDING = "refunding"  # paid after the order was cancelled: refunded automatically


async def prepay(
    session: AsyncSession, services: Services, member_id: uuid.UUID, order_id: uuid.UUID
) -> PrepayOut:
    try:
        order = await services.orders.order(order_id)
    except UpstreamError as exc:
        if exc.status_code == 404:
            raise PaymentOrderNotFound(f"No order {order_id}.") from None
        raise
    if order.member_id != member_id:
        raise PaymentOrderNotFound(f"No order {order_id}.")  # another's order: not found
    now = datetime.now(UTC)
    if order.status != PENDING_PAYMENT:
        raise OrderNotPayable(f"The order is {order.status}, not waiting for payment.")
    if order.pay_deadline_at <= now:
        raise OrderNotPayable("The order's payment deadline has passed.")

    await repository.insert_if_missing(
        session,
        order_id=order.order_id,
        member_id=order.member_id,
        amount_fen=order.total_fen,
        description=order.description[:127] or "minimall order",
        time_expire_at=order.pay_deadline_at,
    )
    payment = await repository.locked_by_order(session, order.order_id)
    assert payment is not None
    if payment.status in (PaymentStatus.PAID, PaymentStatus.FLAGGED):
        raise PaymentAlreadyMade("This order has been paid.")
    if payment.order_cancelled_at is not None or payment.status == PaymentStatus.CLOSED:
        raise OrderNotPayable("The order was cancelled.")

    margin = timedelta(seconds=services.settings.prepay_reuse_margin_s)
    if (
        payment.prepay_id is None
        or payment.prepay_expires_at is None
        or payment.prepay_expires_at - margin <= now
    ):
        await _new_prepay(services, payment, now)
    assert payment.prepay_id is not None
    params = services.wechatpay.request_payment(payment.prepay_id)
    return PrepayOut(
        time_stamp=params.time_stamp,
        nonce_str=params.nonce_str,
        package=params.package,
        sign_type=params.sign_type,
        pay_sign=params.pay_sign,
    )


async def _new_prepay(services: Services, payment: Payment, now: datetime) -> None:
    if payment.payer_openid is None:
        try:
            payment.payer_openid = await services.members.openid(payment.member_id)
        except UpstreamError as exc:
            if exc.status_code != 404:
                raise
            raise PayerUnknown("The member has no WeChat openid to pay with.") from exc
    try:
        prepay_id = await services.wechatpay.prepay_jsapi(
            JsapiPrepay(
                description=payment.description,
                out_trade_no=payment.out_trade_no,
                notify_url=services.settings.wechatpay_notify_url,
                amount=PrepayAmount(total=payment.amount_fen),
                payer=Payer(openid=payment.payer_openid),
                time_expire=payment.time_expire_at,
            )
        )
    except WeChatPayOrderPaid:
        raise PaymentAlreadyMade("This order has been paid.") from None
    except WeChatPayOrderClosed:
        raise OrderNotPayable("The WeChat order is closed.") from None
    payment.prepay_id = prepay_id
    payment.prepay_expires_at = now + PREPAY_LIFETIME
    payment.prepaid_at = payment.prepaid_at or now
    log.info("payment.prepaid", order_id=str(payment.order_id), out_trade_no=payment.out_trade_no)


def identity_problem(config: WeChatPayConfig, tx: Transaction) -> str | None:
    """Why a transaction is not for this merchant and mini-program (None when it is)."""
    if tx.mchid != config.mchid:
        return "mchid_mismatch"
    if tx.appid != config.appid:
        return "appid_mismatch"
    return None


async def record_success(session: AsyncSession, payment: Payment, tx: Transaction) -> Recorded:
    """WeChat says ``tx`` (trade_state SUCCESS, identity checked) paid ``payment`` (locked)."""
    transaction_id = tx.transaction_id or ""
    if payment.transaction_id is not None:
        if payment.transaction_id != transaction_id:
            log.error(
                "payment.second_transaction_alert",
                order_id=str(payment.order_id),
                recorded=payment.transaction_id,
                received=transaction_id,
            )
        return Recorded.DUPLICATE
    amount = tx.amount.total if tx.amount is not None else None
    payment.transaction_id = transaction_id
    payment.paid_fen = amount
    payment.paid_at = tx.success_time or datetime.now(UTC)
    if amount != payment.amount_fen:
        reason = f"WeChat reports {amount} fen paid for an order of {payment.amount_fen} fen"
        payment.status = PaymentStatus.FLAGGED
        payment.flag_reason = reason
        add_event(
            session,
            "payment.flagged",
            str(payment.order_id),
            {"order_id": str(payment.order_id), "reason": reason},
        )
        log.error(
            "payment.amount_mismatch_alert",
            order_id=str(payment.order_id),
            out_trade_no=payment.out_trade_no,
            paid=amount,
            expected=payment.amount_fen,
        )
        if payment.order_cancelled_at is not None:
            await refunds.refund_cancelled_order(session, payment)
        return Recorded.FLAGGED
    payment.status = PaymentStatus.PAID
    if payment.order_cancelled_at is not None:
        await refunds.refund_cancelled_order(session, payment)
        return Recorded.REFUNDING
    add_event(
        session,
        "payment.succeeded",
        str(payment.order_id),
        {
            "order_id": str(payment.order_id),
            "payment_id": str(payment.id),
            "amount_fen": amount,
            "transaction_id": transaction_id,
            "paid_at": payment.paid_at.astimezone(UTC).isoformat(),
        },
    )
    log.info("payment.succeeded", order_id=str(payment.order_id), amount_fen=amount)
    return Recorded.PAID


def mark_closed(payment: Payment) -> None:
    payment.status = PaymentStatus.CLOSED
    payment.closed_at = datetime.now(UTC)


async def order_cancelled(session: AsyncSession, order_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """``order.cancelled``: no payment may pay this order any more. The settler closes the
    WeChat order; money that already arrived (or arrives later) is refunded."""
    now = datetime.now(UTC)
    # A row for orders never prepaid too, so that a late prepay finds the order cancelled.
    await repository.insert_if_missing(
        session,
        order_id=order_id,
        member_id=member_id,
        amount_fen=0,
        description="cancelled before prepay",
        status=PaymentStatus.CLOSED,
        order_cancelled_at=now,
    )
    payment = await repository.locked_by_order(session, order_id)
    assert payment is not None
    if payment.order_cancelled_at is None:
        payment.order_cancelled_at = now
    if payment.status in (PaymentStatus.PAID, PaymentStatus.FLAGGED):
        await refunds.refund_cancelled_order(session, payment)
