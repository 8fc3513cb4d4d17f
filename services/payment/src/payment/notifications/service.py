"""Payment and refund notifications: verify the raw bytes and decrypt (``NotificationParser``),
check that they are ours, record once under a row lock, publish through the outbox.

A refusal raises ``NotificationRefused`` before anything changed. An amount mismatch is the
one refusal that records something (the payment is flagged, ``payment.flagged`` published):
``Handled.refused`` tells the endpoint to answer FAIL after committing it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from payment.deps import Services
from payment.notifications.errors import NotificationRefused
from payment.payments import repository as payments
from payment.payments import service as payment_service
from payment.payments.service import Recorded
from payment.refunds import repository as refunds
from payment.refunds import service as refund_service

log = get_logger(__name__)


@dataclass(frozen=True)
class Handled:
    outcome: str
    refused: NotificationRefused | None = None


async def payment_notification(
    session: AsyncSession, services: Services, headers: Iterable[tuple[str, str]], body: bytes
) -> Handled:
    notification = await services.wechatpay.notifications.parse(headers, body)
    if notification.event_type != "TRANSACTION.SUCCESS":
        raise NotificationRefused(400, "event_type", f"unexpected {notification.event_type}")
    tx = notification.transaction()
    problem = payment_service.identity_problem(services.wechatpay.config, tx)
    if problem:
        raise NotificationRefused(400, problem, "not for this merchant or mini-program")
    if tx.trade_state != "SUCCESS":
        raise NotificationRefused(400, "trade_state", f"trade_state is {tx.trade_state}")
    payment = await payments.locked_by_out_trade_no(session, tx.out_trade_no)
    if payment is None:
        raise NotificationRefused(404, "unknown_out_trade_no", "no such order")
    recorded = await payment_service.record_success(session, payment, tx)
    log.info(
        "payment.notify_handled",
        notification_id=notification.id,
        order_id=str(payment.order_id),
        outcome=recorded.value,
    )
    if recorded == Recorded.FLAGGED or (
        recorded == Recorded.DUPLICATE and payment.flag_reason is not None
    ):
        return Handled(
            recorded.value, NotificationRefused(400, "amount_mismatch", "amount mismatch")
        )
    return Handled(recorded.value)


async def refund_notification(
    session: AsyncSession, services: Services, headers: Iterable[tuple[str, str]], body: bytes
) -> Handled:
    notification = await services.wechatpay.notifications.parse(headers, body)
    if not notification.event_type.startswith("REFUND."):
        raise NotificationRefused(400, "event_type", f"unexpected {notification.event_type}")
    notice = notification.refund()
    if notice.mchid != services.wechatpay.config.mchid:
        raise NotificationRefused(400, "mchid_mismatch", "not for this merchant")
    refund = await refunds.locked_by_out_refund_no(session, notice.out_refund_no)
    if refund is None:
        raise NotificationRefused(404, "unknown_out_refund_no", "no such refund")
    if notice.amount.refund != refund.amount_fen:
        log.error(
            "payment.refund_amount_mismatch_alert",
            out_refund_no=refund.out_refund_no,
            notified=notice.amount.refund,
            requested=refund.amount_fen,
        )
        raise NotificationRefused(400, "amount_mismatch", "refund amount mismatch")
    refund_service.apply_wechat_status(
        session, refund, notice.refund_status, notice.refund_id, notice.success_time
    )
    log.info(
        "payment.refund_notify_handled",
        notification_id=notification.id,
        out_refund_no=refund.out_refund_no,
        status=refund.status,
    )
    return Handled(refund.status)
