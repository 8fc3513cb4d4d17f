"""What WeChat Pay remembers: orders (NOTPAY → SUCCESS → REFUND, or CLOSED) and refunds
(PROCESSING → SUCCESS, ABNORMAL or CLOSED), in memory, with its rules and error codes."""

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from wechat_sim.pay.auth import Caller
from wechat_sim.pay.errors import PayError
from wechat_sim.pay.schemas import JsapiPrepayBody, RefundBody

CHINA = timezone(timedelta(hours=8))
PREPAY_TTL_S = 2 * 3600
MAX_REFUNDS = 50
STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "订单已关闭",
}


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).isoformat(timespec="seconds")


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def new_prepay_id(now: float) -> str:
    return "wx" + datetime.fromtimestamp(now, CHINA).strftime("%d%H%M%S") + secrets.token_hex(13)


def fingerprint(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class PayOrder:
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int
    openid: str
    attach: str | None
    time_expire: float | None
    fingerprint: str
    prepay_id: str
    prepay_at: float
    # Wechatpay-Serial of the prepay request: which key signs this order's notifications.
    wants_serial: str | None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: float | None = None
    paid_total: int = 0
    refunds: list["PayRefund"] = field(default_factory=list)

    def transaction(self) -> dict[str, Any]:
        """The Transaction object of the query answer and of the payment notification."""
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.trade_state,
            "trade_state_desc": STATE_DESC.get(self.trade_state, self.trade_state),
        }
        if self.attach is not None:
            body["attach"] = self.attach
        if self.transaction_id is None:  # never paid: no transaction_id, payer or success_time
            body["amount"] = {"total": self.total, "currency": "CNY", "payer_currency": "CNY"}
            return body
        assert self.success_time is not None
        body |= {
            "transaction_id": self.transaction_id,
            "trade_type": "JSAPI",
            "bank_type": "OTHERS",
            "success_time": rfc3339(self.success_time),
            "payer": {"openid": self.openid},
            "amount": {
                "total": self.paid_total,
                "payer_total": self.paid_total,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
            "promotion_detail": [],
        }
        return body

    def refundable(self) -> int:
        held = sum(r.refund for r in self.refunds if r.status in ("PROCESSING", "SUCCESS"))
        return self.paid_total - held


@dataclass
class PayRefund:
    refund_id: str
    out_refund_no: str
    order: PayOrder
    refund: int
    reason: str | None
    notify_url: str | None
    fingerprint: str
    create_time: float
    status: str = "PROCESSING"
    success_time: float | None = None

    def body(self) -> dict[str, Any]:
        """The Refund object (create and query answers)."""
        body: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.order.transaction_id,
            "out_trade_no": self.order.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.create_time),
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": self.amounts()
            | {
                "from": [],
                "settlement_refund": self.refund,
                "settlement_total": self.order.paid_total,
                "discount_refund": 0,
                "currency": "CNY",
            },
            "promotion_detail": [],
        }
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        return body

    def amounts(self) -> dict[str, int]:
        total = self.order.paid_total
        return {
            "total": total,
            "refund": self.refund,
            "payer_total": total,
            "payer_refund": self.refund,
        }

    def notice(self) -> dict[str, Any]:
        """The decrypted resource of a refund notification."""
        body: dict[str, Any] = {
            "mchid": self.order.mchid,
            "transaction_id": self.order.transaction_id,
            "out_trade_no": self.order.out_trade_no,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "refund_status": self.status,
            "user_received_account": "支付用户零钱",
            "amount": self.amounts(),
        }
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        return body


def _check_notify_url(url: str, field_name: str) -> None:
    """HTTPS and no query string in production; the simulator also accepts http://."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise PayError(400, "PARAM_ERROR", f"{field_name}格式不正确", {"field": field_name})


@dataclass
class Ledger:
    """Orders and refunds of the one merchant the simulator knows."""

    mchid: str
    appid: str
    orders: dict[str, PayOrder] = field(default_factory=dict)
    by_prepay: dict[str, PayOrder] = field(default_factory=dict)
    by_transaction: dict[str, PayOrder] = field(default_factory=dict)
    refunds: dict[str, PayRefund] = field(default_factory=dict)

    def prepay(self, caller: Caller, body: JsapiPrepayBody) -> PayOrder:
        now = time.time()
        if body.mchid != self.mchid or body.mchid != caller.mchid:
            raise PayError(400, "MCH_NOT_EXISTS", "商户号不存在")
        if body.appid != self.appid:
            raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        _check_notify_url(body.notify_url, "notify_url")
        expire = body.time_expire.timestamp() if body.time_expire else None
        if expire is not None and expire > now + 90 * 86400:
            raise PayError(400, "PARAM_ERROR", "time_expire超出范围", {"field": "time_expire"})
        if expire is not None:
            expire = max(expire, now + 60)  # WeChat moves it to at least one minute on
        print_ = fingerprint(body.model_dump(mode="json"))
        order = self.orders.get(body.out_trade_no)
        if order is not None:
            if order.trade_state in ("SUCCESS", "REFUND"):
                raise PayError(400, "ORDERPAID", "订单已支付")
            if order.trade_state == "CLOSED":
                raise PayError(400, "ORDER_CLOSED", "订单已关闭")
            if order.fingerprint != print_:
                raise PayError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            if now - order.prepay_at >= PREPAY_TTL_S:  # same order, a fresh prepay_id
                order.prepay_id, order.prepay_at = new_prepay_id(now), now
                self.by_prepay[order.prepay_id] = order
            return order
        order = PayOrder(
            appid=body.appid,
            mchid=body.mchid,
            out_trade_no=body.out_trade_no,
            description=body.description,
            notify_url=body.notify_url,
            total=body.amount.total,
            openid=body.payer.openid,
            attach=body.attach,
            time_expire=expire,
            fingerprint=print_,
            prepay_id=new_prepay_id(now),
            prepay_at=now,
            wants_serial=caller.wants_serial,
        )
        self.orders[order.out_trade_no] = order
        self.by_prepay[order.prepay_id] = order
        return order

    def order(self, out_trade_no: str) -> PayOrder:
        order = self.orders.get(out_trade_no)
        if order is None:
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def order_by_transaction(self, transaction_id: str) -> PayOrder:
        order = self.by_transaction.get(transaction_id)
        if order is None:
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def close(self, out_trade_no: str) -> None:
        order = self.order(out_trade_no)
        if order.trade_state in ("SUCCESS", "REFUND"):
            raise PayError(400, "ORDERPAID", "订单已支付")
        order.trade_state = "CLOSED"

    def pay(self, prepay_id: str, total: int | None) -> PayOrder:
        """The shopper confirms in WeChat (sandbox). Errors are the sandbox's, not v3's."""
        now = time.time()
        order = self.by_prepay.get(prepay_id)
        if order is None or order.prepay_id != prepay_id:
            raise LookupError("unknown or replaced prepay_id")
        if now - order.prepay_at >= PREPAY_TTL_S:
            raise ValueError("the prepay_id expired (2 hours)")
        if order.time_expire is not None and now >= order.time_expire:
            raise ValueError("the order expired (time_expire)")
        if order.trade_state != "NOTPAY":
            raise ValueError(f"the order is {order.trade_state}")
        order.trade_state = "SUCCESS"
        order.transaction_id = "4200" + _digits(24)
        order.success_time = now
        order.paid_total = total or order.total
        self.by_transaction[order.transaction_id] = order
        return order

    def refund(self, body: RefundBody) -> tuple[PayRefund, bool]:
        """A new refund (True) or the same request again (False)."""
        if (body.transaction_id is None) == (body.out_trade_no is None):
            raise PayError(400, "PARAM_ERROR", "transaction_id和out_trade_no必须二选一")
        if body.notify_url:
            _check_notify_url(body.notify_url, "notify_url")
        order = (
            self.orders.get(body.out_trade_no)
            if body.out_trade_no
            else self.by_transaction.get(body.transaction_id or "")
        )
        if order is None:
            raise PayError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        print_ = fingerprint(
            body.model_dump(mode="json", exclude={"transaction_id", "out_trade_no"})
        )
        existing = self.refunds.get(body.out_refund_no)
        if existing is not None:
            if existing.order is not order or existing.fingerprint != print_:
                raise PayError(400, "INVALID_REQUEST", "退款单号已存在，请求参数与原请求不一致")
            return existing, False
        if order.trade_state not in ("SUCCESS", "REFUND"):
            raise PayError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if body.amount.total != order.paid_total:
            raise PayError(
                400, "PARAM_ERROR", "订单金额与实际支付金额不一致", {"field": "amount.total"}
            )
        if body.amount.refund > order.refundable():
            raise PayError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        if len(order.refunds) >= MAX_REFUNDS:
            raise PayError(403, "RULE_LIMIT", "退款次数超过限制")
        refund = PayRefund(
            refund_id="50" + _digits(27),
            out_refund_no=body.out_refund_no,
            order=order,
            refund=body.amount.refund,
            reason=body.reason,
            notify_url=body.notify_url,
            fingerprint=print_,
            create_time=time.time(),
        )
        order.refunds.append(refund)
        self.refunds[refund.out_refund_no] = refund
        return refund, True

    def refund_of(self, out_refund_no: str) -> PayRefund:
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return refund

    @staticmethod
    def settle(refund: PayRefund, status: str) -> bool:
        """PROCESSING → SUCCESS, ABNORMAL or CLOSED; False when it was already settled."""
        if refund.status != "PROCESSING":
            return False
        refund.status = status
        if status == "SUCCESS":
            refund.success_time = time.time()
            refund.order.trade_state = "REFUND"
        return True
