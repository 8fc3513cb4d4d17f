"""Time-driven work with WeChat, run in ``python -m payment.consumer`` every
``settle_interval_s``:

- cancelled orders: close the WeChat order (paid meanwhile → recorded and refunded);
- payments still unknown ``query_after_s`` after prepay: query them (lost notifications);
- refunds recorded but not accepted yet: submit them (the same ``out_refund_no``);
- refunds accepted but unsettled ``refund_query_after_s`` later: query them;
- once a day, past ``reconcile_after_hour`` (China time): reconcile yesterday's bill.

WeChat is called outside any transaction; the result is applied under the row lock, by the
same code the notifications use, so a notification and a query racing record it once.
"""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from shared.logging import get_logger

from payment.deps import Services
from payment.models import Payment, PaymentStatus, Refund, RefundStatus
from payment.payments import repository as payments
from payment.payments import service as payment_service
from payment.reconciliations import service as reconciliations
from payment.refunds import repository as refunds
from payment.refunds import service as refund_service
from payment.wechatpay.errors import (
    WeChatPayBalanceInsufficient,
    WeChatPayError,
    WeChatPayNotFound,
    WeChatPayOrderClosed,
    WeChatPayOrderPaid,
)
from payment.wechatpay.models import CHINA, RefundCreate, RefundRequestAmount, Transaction

log = get_logger(__name__)
BATCH = 50


async def _apply_query(services: Services, payment_id: uuid.UUID, tx: Transaction) -> None:
    async with services.sessionmaker() as session, session.begin():
        payment = await payments.locked(session, payment_id)
        if payment is None or payment.transaction_id is not None:
            return
        payment.last_queried_at = datetime.now(UTC)
        if tx.trade_state == "SUCCESS":
            problem = payment_service.identity_problem(services.wechatpay.config, tx)
            if problem or tx.out_trade_no != payment.out_trade_no:
                log.error("payment.query_mismatch_alert", out_trade_no=payment.out_trade_no)
                return
            recorded = await payment_service.record_success(session, payment, tx)
            log.info("payment.settled_by_query", order_id=str(payment.order_id), outcome=recorded)
        elif tx.trade_state in ("CLOSED", "REVOKED", "PAYERROR") and (
            payment.order_cancelled_at is not None
        ):
            payment_service.mark_closed(payment)


async def _query(services: Services, payment_id: uuid.UUID, out_trade_no: str) -> None:
    try:
        tx = await services.wechatpay.query_by_out_trade_no(out_trade_no)
    except WeChatPayNotFound:
        tx = None
    if tx is not None:
        await _apply_query(services, payment_id, tx)
        return
    async with services.sessionmaker() as session, session.begin():
        payment = await payments.locked(session, payment_id)
        if payment is not None:
            payment.last_queried_at = datetime.now(UTC)


async def query_unknown(services: Services) -> int:
    now = datetime.now(UTC)
    s = services.settings
    async with services.sessionmaker() as session:
        due = await payments.due_for_query(
            session,
            now - timedelta(seconds=s.query_after_s),
            now - timedelta(seconds=s.query_interval_s),
            BATCH,
        )
    for payment_id, out_trade_no in due:
        try:
            await _query(services, payment_id, out_trade_no)
        except WeChatPayError as exc:  # this one next round; the others now
            log.warning("payment.query_failed", out_trade_no=out_trade_no, error=exc.code)
    return len(due)


async def close_cancelled(services: Services) -> int:
    async with services.sessionmaker() as session:
        due = await payments.cancelled_to_close(session, BATCH)
    for payment_id, out_trade_no, prepaid in due:
        if prepaid:
            try:
                await services.wechatpay.close(out_trade_no)
            except WeChatPayOrderPaid:  # paid before we closed: record it, then refund
                tx = await services.wechatpay.query_by_out_trade_no(out_trade_no)
                await _apply_query(services, payment_id, tx)
                continue
            except (WeChatPayNotFound, WeChatPayOrderClosed):
                pass
            except WeChatPayError as exc:  # this one next round; the others now
                log.warning("payment.close_failed", out_trade_no=out_trade_no, error=exc.code)
                continue
        async with services.sessionmaker() as session, session.begin():
            locked = await payments.locked(session, payment_id)
            if locked is not None and locked.status == PaymentStatus.PENDING:
                payment_service.mark_closed(locked)
                log.info("payment.closed", order_id=str(locked.order_id))
    return len(due)


async def submit_refunds(services: Services) -> int:
    async with services.sessionmaker() as session:
        due = await refunds.to_submit(session, BATCH)
    for refund_pk in due:
        async with services.sessionmaker() as session:
            refund = await session.get(Refund, refund_pk)
            payment = await session.get(Payment, refund.payment_id) if refund else None
        if refund is None or payment is None:
            continue
        request = RefundCreate(
            out_refund_no=refund.out_refund_no,
            out_trade_no=payment.out_trade_no,
            reason=refund.reason,
            notify_url=services.settings.wechatpay_refund_notify_url or None,
            amount=RefundRequestAmount(
                refund=refund.amount_fen, total=int(payment.paid_fen or payment.amount_fen)
            ),
        )
        error: WeChatPayError | None = None
        try:
            answer = await services.wechatpay.create_refund(request)
        except WeChatPayError as exc:
            error = exc
        async with services.sessionmaker() as session, session.begin():
            locked = await refunds.locked(session, refund_pk)
            if locked is None or locked.status != RefundStatus.REQUESTED:
                continue
            locked.attempts += 1
            if error is None:
                locked.submitted_at = datetime.now(UTC)
                refund_service.apply_wechat_status(
                    session, locked, answer.status, answer.refund_id, answer.success_time
                )
                continue
            locked.last_error = error.message[:1000]
            if error.retryable or isinstance(error, WeChatPayBalanceInsufficient):
                log.warning(
                    "payment.refund_retry", out_refund_no=locked.out_refund_no, error=error.code
                )
            else:
                locked.status = RefundStatus.FAILED
                log.error(
                    "payment.refund_refused_alert",
                    out_refund_no=locked.out_refund_no,
                    error=error.message[:200],
                )
    return len(due)


async def query_refunds(services: Services) -> int:
    now = datetime.now(UTC)
    s = services.settings
    async with services.sessionmaker() as session:
        due = await refunds.to_query(
            session,
            now - timedelta(seconds=s.refund_query_after_s),
            now - timedelta(seconds=s.refund_query_interval_s),
            BATCH,
        )
    for refund_pk in due:
        async with services.sessionmaker() as session:
            refund = await session.get(Refund, refund_pk)
        if refund is None:
            continue
        try:
            answer = await services.wechatpay.query_refund(refund.out_refund_no)
        except WeChatPayError as exc:
            log.warning(
                "payment.refund_query_failed", out_refund_no=refund.out_refund_no, error=exc.code
            )
            continue
        async with services.sessionmaker() as session, session.begin():
            locked = await refunds.locked(session, refund_pk)
            if locked is None:
                continue
            locked.last_queried_at = datetime.now(UTC)
            refund_service.apply_wechat_status(
                session, locked, answer.status, answer.refund_id, answer.success_time
            )
    return len(due)


async def reconcile_daily(services: Services) -> bool:
    s = services.settings
    now = datetime.now(CHINA)
    if not s.reconcile_daily or now.hour < s.reconcile_after_hour:
        return False
    async with services.sessionmaker() as session, session.begin():
        return await reconciliations.run_daily(
            session, services.wechatpay, now.date() - timedelta(days=1)
        )


async def settle_once(services: Services) -> None:
    for step in (close_cancelled, query_unknown, submit_refunds, query_refunds, reconcile_daily):
        try:
            await step(services)
        except Exception as exc:  # WeChat or the database away: the next round retries
            log.warning("payment.settle_failed", step=step.__name__, error=repr(exc))


async def run(services: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await settle_once(services)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.settle_interval_s)
