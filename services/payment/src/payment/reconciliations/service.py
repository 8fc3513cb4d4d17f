"""Reconciliation: WeChat's trade bill of one day (China time) against our payments.

Differences: ``missing_here`` (paid at WeChat, not recorded here: a lost notification the
query did not settle, or an order that is not ours), ``missing_at_wechat`` (recorded here,
not in the bill), ``amount_mismatch`` (the bill's amount differs from the order's).
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from payment.models import Reconciliation
from payment.payments import repository as payments
from payment.reconciliations import repository
from payment.reconciliations.errors import BillDateInvalid
from payment.wechatpay import WeChatPayClient
from payment.wechatpay.bills import TradeBillRow
from payment.wechatpay.errors import WeChatPayRejected
from payment.wechatpay.models import CHINA

log = get_logger(__name__)


def china_today() -> date:
    return datetime.now(CHINA).date()


async def _bill_rows(wechatpay: WeChatPayClient, bill_date: date) -> list[TradeBillRow]:
    try:
        bill = await wechatpay.fetch_trade_bill(bill_date)
    except WeChatPayRejected as exc:
        if exc.wechat_code == "NO_STATEMENT_EXIST":  # no trade that day
            return []
        raise
    return [r for r in bill.rows if r.trade_state == "SUCCESS"]


async def compare(
    session: AsyncSession, wechatpay: WeChatPayClient, bill_date: date
) -> dict[str, Any]:
    if bill_date > china_today():
        raise BillDateInvalid("There is no bill for a day that has not happened.")
    rows = await _bill_rows(wechatpay, bill_date)
    theirs = {r.out_trade_no: r for r in rows}
    start = datetime.combine(bill_date, time(), CHINA).astimezone(UTC)
    ours_that_day = {
        p.out_trade_no: p
        for p in await payments.received_between(session, start, start + timedelta(days=1))
    }
    ours = await payments.received_by_out_trade_no(session, sorted(theirs))
    differences: list[dict[str, Any]] = []
    for no, row in sorted(theirs.items()):
        payment = ours.get(no)
        if payment is None:
            differences.append(
                {
                    "kind": "missing_here",
                    "out_trade_no": no,
                    "transaction_id": row.transaction_id,
                    "wechat_fen": row.total_fen,
                    "our_fen": None,
                }
            )
        elif payment.amount_fen != row.total_fen:
            differences.append(
                {
                    "kind": "amount_mismatch",
                    "out_trade_no": no,
                    "transaction_id": row.transaction_id,
                    "wechat_fen": row.total_fen,
                    "our_fen": payment.amount_fen,
                }
            )
    for no, payment in sorted(ours_that_day.items()):
        if no not in theirs:
            differences.append(
                {
                    "kind": "missing_at_wechat",
                    "out_trade_no": no,
                    "transaction_id": payment.transaction_id,
                    "wechat_fen": None,
                    "our_fen": payment.amount_fen,
                }
            )
    if differences:
        log.error(
            "payment.reconciliation_differences_alert",
            bill_date=bill_date.isoformat(),
            differences=len(differences),
        )
    return {
        "bill_date": bill_date,
        "status": "differences" if differences else "matched",
        "wechat_count": len(rows),
        "wechat_total_fen": sum(r.total_fen for r in rows),
        "our_count": len(ours_that_day),
        "our_total_fen": sum(p.amount_fen for p in ours_that_day.values()),
        "differences": differences,
    }


async def run(
    session: AsyncSession, wechatpay: WeChatPayClient, bill_date: date, run_by: str
) -> Reconciliation:
    report = await compare(session, wechatpay, bill_date)
    return await repository.add(session, {**report, "run_by": run_by})


async def run_daily(session: AsyncSession, wechatpay: WeChatPayClient, bill_date: date) -> bool:
    """Yesterday's reconciliation, once (False when it exists already)."""
    if await repository.daily_exists(session, bill_date):
        return False
    report = await compare(session, wechatpay, bill_date)
    stored = await repository.add_daily(session, report)
    if stored:
        log.info("payment.reconciled", bill_date=bill_date.isoformat(), status=report["status"])
    return stored
