"""Trade bills as WeChat writes them (wechat-notes.md §5): comma-separated, every value
prefixed with a backtick, amounts in yuan, a summary block at the end."""

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime

from wechat_sim.pay.state import CHINA, PayOrder, PayRefund

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
FEE_RATE_PER_MILLE = 6  # 0.60%


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def fee(fen: int) -> int:
    return (fen * FEE_RATE_PER_MILLE + 500) // 1000  # rounded half up


def china_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, CHINA).date()


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _line(values: Iterable[str]) -> str:
    """Backtick-prefixed values; one holding a comma or a quote is quoted (CSV rules)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(f"`{v}" for v in values)
    return out.getvalue()


def _payment_row(o: PayOrder) -> list[str]:
    assert o.success_time is not None and o.transaction_id is not None
    total = o.paid_total
    return [
        _when(o.success_time), o.appid, o.mchid, "0", "", o.transaction_id, o.out_trade_no,
        o.openid, "JSAPI", "SUCCESS", "OTHERS", "CNY", yuan(total), "0.00", "0", "0", "0.00",
        "0.00", "", "", o.description, o.attach or "", yuan(fee(total)), "0.60%", yuan(total),
        "0.00", "",
    ]  # fmt: skip


def _refund_row(r: PayRefund) -> list[str]:
    o = r.order
    assert r.success_time is not None and o.transaction_id is not None
    return [
        _when(r.success_time), o.appid, o.mchid, "0", "", o.transaction_id, o.out_trade_no,
        o.openid, "JSAPI", "REFUND", "OTHERS", "CNY", "0.00", "0.00", r.refund_id,
        r.out_refund_no, yuan(r.refund), "0.00", "ORIGINAL", "SUCCESS", o.description,
        o.attach or "", yuan(-fee(r.refund)), "0.60%", "0.00", yuan(r.refund), "",
    ]  # fmt: skip


def trade_bill(orders: Iterable[PayOrder], day: date, bill_type: str) -> bytes | None:
    """The bill of one China day, or None when nothing happened (NO_STATEMENT_EXIST)."""
    paid = [o for o in orders if o.success_time is not None and china_day(o.success_time) == day]
    refunded = [
        r
        for o in orders
        for r in o.refunds
        if r.status == "SUCCESS" and r.success_time and china_day(r.success_time) == day
    ]
    if bill_type == "SUCCESS":
        refunded = []
    elif bill_type == "REFUND":
        paid = []
    if not paid and not refunded:
        return None
    rows = [_payment_row(o) for o in sorted(paid, key=lambda o: o.success_time or 0)]
    rows += [_refund_row(r) for r in sorted(refunded, key=lambda r: r.success_time or 0)]
    settled = sum(o.paid_total for o in paid)
    refunds = sum(r.refund for r in refunded)
    fees = sum(fee(o.paid_total) for o in paid) - sum(fee(r.refund) for r in refunded)
    summary = [
        str(len(rows)),
        yuan(settled),
        yuan(refunds),
        "0.00",
        yuan(fees),
        yuan(settled),
        yuan(refunds),
    ]
    lines = [HEADER, *(_line(row) for row in rows), SUMMARY_HEADER, _line(summary)]
    return ("\r\n".join(lines) + "\r\n").encode()
