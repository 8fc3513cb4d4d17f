"""Payment end to end: the real payment processes (HTTP, consumer with the settler, relay),
order (HTTP, consumer, relay), catalog, member and the WeChat simulator, real PostgreSQL,
Redis and Kafka. Our production WeChat Pay client talks to the simulator; the simulator's
notifications reach the payment HTTP process directly (the gateway forwards them in
production). Requests carry the X-Auth-* headers the gateway would set."""

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from devstack.infra import free_port
from devstack.stack import payment_wechatpay_env
from payment.wechatpay.models import JsapiPrepay, Payer, PrepayAmount
from shared.events import Event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from wechat_sim.pay.crypto import encrypt, signtest_signature
from wechat_sim.pay.keys import DevKeys
from wechat_sim.settings import DEV_APPID

from tests.apps.wechatpay_kit import client_for
from tests.conftest import _wait_http
from tests.shopkit import STAFF, checkout, create, member, product, publish, shopper
from tests.support import Processes, eventually

CHINA = timezone(timedelta(hours=8))
FINANCE = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "finance"}
NOTIFY = "/api/v1/payments/wechat/notify"
REFUND_NOTIFY = "/api/v1/payments/wechat/refund-notify"
QUERY_AFTER_S = 10  # the active query settles what notifications did not, after this


@dataclass
class Suite:
    order: str
    catalog: str
    member: str
    sim: str
    payment: str
    procs: Processes
    payment_env: dict[str, str]


def payment_env(sim: str, keys: DevKeys, notify_base: str, payment_base: str) -> dict[str, str]:
    return {
        **payment_wechatpay_env(
            sim,
            keys,
            notify_url=f"{notify_base}{NOTIFY}",
            refund_notify_url=f"{payment_base}{REFUND_NOTIFY}",
        ),
        "PAYMENT_SETTLE_INTERVAL_S": "0.3",
        "PAYMENT_QUERY_AFTER_S": str(QUERY_AFTER_S),
        "PAYMENT_QUERY_INTERVAL_S": "2",
        "PAYMENT_REFUND_QUERY_AFTER_S": "3",
        "PAYMENT_REFUND_QUERY_INTERVAL_S": "1",
        "PAYMENT_RECONCILE_AFTER_HOUR": "0",  # the daily run happens at once
    }


def uvicorn(app: str, port: str) -> list[str]:
    return ["-m", "uvicorn", app, "--factory", "--port", port]


@pytest.fixture(scope="module")
def suite(
    envs: dict[str, dict[str, str]], member_url: str, wechat_sim: str, wechatpay_keys: DevKeys
) -> Iterator[Suite]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    ports = {
        s: envs[s][f"{s.upper()}_HTTP_PORT"] for s in ("catalog", "order", "payment", "marketing")
    }
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    pay_env = payment_env(wechat_sim, wechatpay_keys, urls["payment"], urls["payment"])
    procs = Processes(env={**merged, **pay_env})
    procs.start("pay-catalog", *uvicorn("catalog.main:create_app", ports["catalog"]))
    procs.start("pay-order", *uvicorn("order.main:create_app", ports["order"]))
    procs.start("pay-payment", *uvicorn("payment.main:create_app", ports["payment"]))
    procs.start("pay-marketing", *uvicorn("marketing.main:create_app", ports["marketing"]))
    for name, args in {
        "pay-order-consumer": ("-m", "order.consumer"),
        "pay-order-relay": ("-m", "shared.relay", "order"),
        "pay-payment-consumer": ("-m", "payment.consumer"),
        "pay-payment-relay": ("-m", "shared.relay", "payment"),
    }.items():
        procs.start(name, *args)
    try:
        for url in urls.values():
            _wait_http(f"{url}/healthz", timeout=60)
        yield Suite(
            urls["order"], urls["catalog"], member_url, wechat_sim, urls["payment"], procs, pay_env
        )
    finally:
        procs.stop_all()


@pytest.fixture
async def http(suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        await client.delete(f"{suite.sim}/sandbox/pay/faults")
        yield client
        await client.delete(f"{suite.sim}/sandbox/pay/faults")


@pytest.fixture
def db(engines: dict[str, AsyncEngine]) -> AsyncEngine:
    return engines["payment"]


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with AsyncSession(engine) as session:
        result = await session.execute(text(sql), params)
        return [dict(r._mapping) for r in result]


async def payment_of(db: AsyncEngine, order_id: str) -> dict[str, Any]:
    [row] = await rows(db, "SELECT * FROM payments WHERE order_id = :o", o=order_id)
    return row


async def events(db: AsyncEngine, order_id: str, event_type: str) -> int:
    found = await rows(
        db,
        "SELECT count(*) AS n FROM outbox WHERE aggregate_id = :o AND type = :t",
        o=order_id,
        t=event_type,
    )
    return int(found[0]["n"])


async def new_order(
    http: httpx.AsyncClient, suite: Suite, price_fen: int = 10_000
) -> tuple[dict[str, str], dict[str, Any]]:
    me = await shopper(http, suite)
    sku = await product(http, suite, stock=5, price_fen=price_fen)
    created = await create(http, suite, me, checkout(me, sku))
    assert created.status_code == 201, created.text
    return me, {**created.json(), "test_sku_id": sku}


async def prepay(
    http: httpx.AsyncClient, base: str, me: dict[str, str], order_id: str
) -> httpx.Response:
    return await http.post(
        f"{base}/api/v1/payments/wechat/prepay", json={"order_id": order_id}, headers=member(me)
    )


def prepay_id_of(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    return str(answer.json()["package"]).removeprefix("prepay_id=")


async def order_status(http: httpx.AsyncClient, suite: Suite, me: dict[str, str], oid: str) -> str:
    found = await http.get(f"{suite.order}/api/v1/orders/{oid}", headers=member(me))
    return str(found.json()["status"])


async def status_becomes(
    http: httpx.AsyncClient, suite: Suite, me: dict[str, str], oid: str, wanted: str
) -> None:
    async def probe() -> bool:
        return await order_status(http, suite, me, oid) == wanted

    await eventually(probe, timeout=60)


async def sandbox_pay(http: httpx.AsyncClient, suite: Suite, prepay_id: str, **extra: Any) -> Any:
    paid = await http.post(f"{suite.sim}/sandbox/pay", json={"prepay_id": prepay_id, **extra})
    assert paid.status_code == 200, paid.text
    return paid.json()


async def test_prepay_takes_amount_and_deadline_from_the_order_and_reuses_the_prepay_id(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine, wechatpay_keys: DevKeys
) -> None:
    me, order = await new_order(http, suite, price_fen=12_345)
    oid = order["order_id"]
    first = await prepay(http, suite.payment, me, oid)
    again = await prepay(http, suite.payment, me, oid)
    params = first.json()
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["signType"] == "RSA" and isinstance(params["timeStamp"], str)
    assert prepay_id_of(again) == prepay_id_of(first)  # a live prepay_id is reused
    message = f"{DEV_APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    merchant_key = wechatpay_keys.merchant_cert.public_key()
    assert isinstance(merchant_key, rsa.RSAPublicKey)
    merchant_key.verify(  # raises when paySign is not the merchant's signature
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    payment = await payment_of(db, oid)
    assert payment["out_trade_no"] == uuid.UUID(oid).hex and payment["status"] == "pending"
    internal = (await http.get(f"{suite.order}/internal/v1/orders/{oid}")).json()
    assert payment["time_expire_at"] == datetime.fromisoformat(internal["pay_deadline_at"])
    pay = client_for(suite.sim, wechatpay_keys)
    try:
        tx = await pay.query_by_out_trade_no(payment["out_trade_no"])
    finally:
        await pay.aclose()
    assert tx.trade_state == "NOTPAY" and tx.amount is not None
    assert tx.amount.total == order["total_fen"]

    someone_else = await shopper(http, suite)
    other = await prepay(http, suite.payment, someone_else, oid)
    assert other.status_code == 404 and other.json()["error"]["code"] == "order_not_found"
    unknown = await prepay(http, suite.payment, me, str(uuid.uuid4()))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "order_not_found"
    anonymous = await http.post(
        f"{suite.payment}/api/v1/payments/wechat/prepay", json={"order_id": oid}
    )
    assert anonymous.status_code == 401 and "error" in anonymous.json()


async def test_the_same_notification_many_times_and_concurrently_pays_once(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine
) -> None:
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    paid = await sandbox_pay(http, suite, prepay_id_of(await prepay(http, suite.payment, me, oid)))
    copies = f"{suite.sim}/sandbox/pay/notifications/{paid['notification_id']}/duplicates"
    statuses: list[int] = []
    for _ in range(15):
        statuses += (await http.post(copies, json={"copies": 1})).json()["statuses"]
    statuses += (await http.post(copies, json={"copies": 10})).json()["statuses"]
    assert len(statuses) == 25 and set(statuses) == {204}
    await status_becomes(http, suite, me, oid, "paid")
    payment = await payment_of(db, oid)
    assert payment["status"] == "paid" and payment["transaction_id"] == paid["transaction_id"]
    assert payment["paid_fen"] == order["total_fen"]
    assert await events(db, oid, "payment.succeeded") == 1
    staff_view = (await http.get(f"{suite.order}/admin/v1/orders/{oid}", headers=STAFF)).json()
    assert [t["to_status"] for t in staff_view["transitions"]].count("paid") == 1


def transaction(keys: DevKeys, out_trade_no: str, total: int, **over: Any) -> dict[str, Any]:
    return {
        "appid": DEV_APPID,
        "mchid": keys.mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": f"42000{int(time.time() * 1000)}",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": datetime.now(CHINA).isoformat(timespec="seconds"),
        "payer": {"openid": "o-forger"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY"},
        **over,
    }


def notification(
    keys: DevKeys, resource: dict[str, Any], *, age_s: int = 0
) -> tuple[dict[str, str], bytes]:
    """A notification signed with WeChat's key (as the simulator would), ``age_s`` old."""
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": datetime.now(CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                **encrypt(keys.apiv3_key, json.dumps(resource).encode(), "transaction"),
            },
        },
        ensure_ascii=False,
    ).encode()
    ts, nonce = int(time.time()) - age_s, uuid.uuid4().hex
    signature = keys.pub_key.sign(
        f"{ts}\n{nonce}\n".encode() + body + b"\n", padding.PKCS1v15(), hashes.SHA256()
    )
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": str(ts),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": base64.b64encode(signature).decode(),
        "Wechatpay-Serial": keys.pub_key_id,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body


async def test_forged_stale_foreign_unknown_and_signtest_notifications_are_refused(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine, wechatpay_keys: DevKeys
) -> None:
    me, order = await new_order(http, suite)
    oid, total = order["order_id"], order["total_fen"]
    prepay_id = prepay_id_of(await prepay(http, suite.payment, me, oid))
    no = uuid.UUID(oid).hex
    url = f"{suite.payment}{NOTIFY}"

    good_headers, good_body = notification(wechatpay_keys, transaction(wechatpay_keys, no, total))
    forged = {**good_headers, "Wechatpay-Signature": base64.b64encode(b"x" * 256).decode()}
    cases = {
        "forged signature": (forged, good_body),
        "altered body": (good_headers, good_body.replace(b'"summary"', b'"Summary"', 1)),
        "stale timestamp": notification(
            wechatpay_keys, transaction(wechatpay_keys, no, total), age_s=301
        ),
        "unknown order": notification(
            wechatpay_keys, transaction(wechatpay_keys, uuid.uuid4().hex, total)
        ),
        "other merchant": notification(
            wechatpay_keys, transaction(wechatpay_keys, no, total, mchid="1900009999")
        ),
        "not paid": notification(
            wechatpay_keys, transaction(wechatpay_keys, no, total, trade_state="NOTPAY")
        ),
        "signtest": (
            {**good_headers, "Wechatpay-Signature": signtest_signature()},
            good_body,
        ),
    }
    for case, (headers, body) in cases.items():
        answer = await http.post(url, content=body, headers=headers)
        assert 400 <= answer.status_code < 600, case
        assert answer.json()["code"] == "FAIL" and answer.json()["message"], case
    probe = await http.post(f"{suite.sim}/sandbox/pay/signtest-probe", json={"notify_url": url})
    assert all(400 <= s < 600 for s in probe.json()["statuses"])

    payment = await payment_of(db, oid)
    assert payment["status"] == "pending" and payment["transaction_id"] is None
    assert await rows(db, "SELECT 1 FROM outbox WHERE aggregate_id = :o", o=oid) == []
    assert await order_status(http, suite, me, oid) == "pending_payment"

    # The genuine notification afterwards is accepted: the refusals were about each forgery.
    await sandbox_pay(http, suite, prepay_id)
    await status_becomes(http, suite, me, oid, "paid")


async def test_a_different_amount_flags_the_payment_and_leaves_the_order_unpaid(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine
) -> None:
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    prepay_id = prepay_id_of(await prepay(http, suite.payment, me, oid))
    paid = await sandbox_pay(http, suite, prepay_id, total=1)

    async def flagged() -> bool:
        return bool((await payment_of(db, oid))["status"] == "flagged")

    await eventually(flagged, timeout=60)
    payment = await payment_of(db, oid)
    assert payment["paid_fen"] == 1 and payment["transaction_id"] == paid["transaction_id"]
    assert "1 fen" in payment["flag_reason"]
    assert await events(db, oid, "payment.flagged") == 1
    assert await events(db, oid, "payment.succeeded") == 0
    listed = await http.get(
        f"{suite.sim}/sandbox/pay/notifications", params={"out_trade_no": uuid.UUID(oid).hex}
    )
    statuses = [a["status"] for n in listed.json() for a in n["attempts"]]
    assert statuses and 204 not in statuses and 200 not in statuses  # refused: FAIL
    again = await prepay(http, suite.payment, me, oid)
    assert again.status_code == 409 and again.json()["error"]["code"] == "payment_already_made"
    assert await order_status(http, suite, me, oid) == "pending_payment"


async def test_a_notify_endpoint_down_for_five_attempts_still_gets_the_order_paid(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine, wechatpay_keys: DevKeys
) -> None:
    # A payment HTTP process whose notify_url points at a port where nothing listens yet.
    prepay_port, notify_port = str(free_port()), str(free_port())
    down = f"http://127.0.0.1:{notify_port}"
    env = {
        **payment_env(suite.sim, wechatpay_keys, down, suite.payment),
        "PAYMENT_HTTP_PORT": prepay_port,
    }
    suite.procs.start("pay-payment-b", *uvicorn("payment.main:create_app", prepay_port), env=env)
    _wait_http(f"http://127.0.0.1:{prepay_port}/healthz", timeout=60)
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    answer = await prepay(http, f"http://127.0.0.1:{prepay_port}", me, oid)
    paid = await sandbox_pay(http, suite, prepay_id_of(answer))

    async def five_failures() -> bool:
        listed = await http.get(
            f"{suite.sim}/sandbox/pay/notifications", params={"out_trade_no": uuid.UUID(oid).hex}
        )
        [sent] = [n for n in listed.json() if n["id"] == paid["notification_id"]]
        return len(sent["attempts"]) >= 5 and not sent["delivered"]

    await eventually(five_failures, timeout=60)
    assert (await payment_of(db, oid))["status"] == "pending"
    # The endpoint comes back: a retry (or the active query) settles the payment.
    suite.procs.start("pay-payment-c", *uvicorn("payment.main:create_app", notify_port), env=env)
    await status_becomes(http, suite, me, oid, "paid")
    assert await events(db, oid, "payment.succeeded") == 1


async def test_a_lost_notification_is_settled_by_the_active_query(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine, wechatpay_keys: DevKeys
) -> None:
    # Notifications go where nothing ever listens: only the consumer's query can tell us.
    prepay_port = str(free_port())
    lost = f"http://127.0.0.1:{free_port()}"
    env = {
        **payment_env(suite.sim, wechatpay_keys, lost, suite.payment),
        "PAYMENT_HTTP_PORT": prepay_port,
    }
    suite.procs.start("pay-payment-d", *uvicorn("payment.main:create_app", prepay_port), env=env)
    _wait_http(f"http://127.0.0.1:{prepay_port}/healthz", timeout=60)
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    paid = await sandbox_pay(
        http, suite, prepay_id_of(await prepay(http, f"http://127.0.0.1:{prepay_port}", me, oid))
    )
    await status_becomes(http, suite, me, oid, "paid")
    payment = await payment_of(db, oid)
    assert payment["transaction_id"] == paid["transaction_id"]
    assert payment["last_queried_at"] is not None  # settled by a query, not a notification
    listed = await http.get(
        f"{suite.sim}/sandbox/pay/notifications", params={"out_trade_no": uuid.UUID(oid).hex}
    )
    assert not any(n["delivered"] for n in listed.json())
    assert await events(db, oid, "payment.succeeded") == 1


async def paid_order(
    http: httpx.AsyncClient, suite: Suite
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    paid = await sandbox_pay(http, suite, prepay_id_of(await prepay(http, suite.payment, me, oid)))
    await status_becomes(http, suite, me, oid, "paid")
    return me, order, paid


async def test_a_refund_retried_with_the_same_out_refund_no_refunds_once(
    http: httpx.AsyncClient,
    suite: Suite,
    db: AsyncEngine,
    wechatpay_keys: DevKeys,
    envs: dict[str, dict[str, str]],
) -> None:
    me, order, _ = await paid_order(http, suite)
    oid = order["order_id"]
    sale = await http.post(
        f"{suite.order}/api/v1/orders/{oid}/after-sales",
        headers=member(me),
        json={
            "kind": "refund_only",
            "items": [{"sku_id": order["test_sku_id"], "quantity": 1}],
            "reason": "不想要了",
        },
    )
    assert sale.status_code == 201, sale.text
    # WeChat accepts the first refund call but its answer cannot be verified (outcome
    # unknown); refunds stay PROCESSING until settled by hand, so our retry is seen.
    fault = {"kind": "bad_signature", "api": "refund", "times": 1}
    assert (await http.post(f"{suite.sim}/sandbox/pay/faults", json=fault)).status_code < 300
    await http.post(f"{suite.sim}/sandbox/pay/settings", json={"hold_refunds": True})
    try:
        approved = await http.post(
            f"{suite.order}/admin/v1/orders/after-sales/{sale.json()['id']}/approve",
            headers=STAFF,
            json={"note": "ok"},
        )
        assert approved.status_code == 200, approved.text

        async def retried() -> dict[str, Any] | None:
            found = await rows(db, "SELECT * FROM refunds WHERE order_id = :o", o=oid)
            ok = found and found[0]["attempts"] >= 2 and found[0]["status"] == "processing"
            return found[0] if ok else None

        pending = await eventually(retried, timeout=60)
    finally:
        await http.post(f"{suite.sim}/sandbox/pay/settings", json={"hold_refunds": False})
    settled = await http.post(
        f"{suite.sim}/sandbox/pay/refunds/{pending['out_refund_no']}/settle",
        json={"status": "SUCCESS"},
    )
    assert settled.status_code < 300, settled.text
    await status_becomes(http, suite, me, oid, "refunded")

    [refund] = await rows(db, "SELECT * FROM refunds WHERE order_id = :o", o=oid)
    assert refund["status"] == "succeeded" and refund["attempts"] >= 2
    assert refund["out_refund_no"] == "R" + uuid.UUID(sale.json()["id"]).hex
    assert refund["amount_fen"] == sale.json()["amount_fen"]
    assert await events(db, oid, "payment.refunded") == 1
    # order.refund_requested delivered again (another event id): nothing new.
    await publish(
        envs,
        Event(
            type="order.refund_requested",
            aggregate_id=oid,
            payload={
                "order_id": oid,
                "member_id": me["X-Auth-Member-Id"],
                "refund_id": sale.json()["id"],
                "amount_fen": sale.json()["amount_fen"],
                "reason": "again",
            },
        ),
    )
    pay = client_for(suite.sim, wechatpay_keys)
    try:
        bill = await pay.fetch_trade_bill(datetime.now(CHINA).date())
        at_wechat = await pay.query_refund(refund["out_refund_no"])
    finally:
        await pay.aclose()
    assert at_wechat.status == "SUCCESS" and at_wechat.amount.refund == refund["amount_fen"]
    refunds_at_wechat = [
        r for r in bill.rows if r.out_trade_no == uuid.UUID(oid).hex and r.trade_state == "REFUND"
    ]
    assert len(refunds_at_wechat) == 1
    assert len(await rows(db, "SELECT 1 FROM refunds WHERE order_id = :o", o=oid)) == 1
    assert await events(db, oid, "payment.refunded") == 1


async def test_a_payment_after_cancellation_is_refunded_automatically(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine
) -> None:
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    prepay_id = prepay_id_of(await prepay(http, suite.payment, me, oid))
    # WeChat cannot close the order for now, so the shopper manages to pay after cancelling.
    fault = {"kind": "error", "api": "close", "times": 1000}
    assert (await http.post(f"{suite.sim}/sandbox/pay/faults", json=fault)).status_code < 300
    cancelled = await http.post(f"{suite.order}/api/v1/orders/{oid}/cancel", headers=member(me))
    assert cancelled.status_code == 200, cancelled.text

    async def cancellation_seen() -> bool:
        return bool((await payment_of(db, oid))["order_cancelled_at"] is not None)

    await eventually(cancellation_seen, timeout=60)
    refused = await prepay(http, suite.payment, me, oid)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "order_not_payable"
    await sandbox_pay(http, suite, prepay_id)

    async def refunded() -> list[dict[str, Any]] | None:
        found = await rows(db, "SELECT * FROM refunds WHERE order_id = :o", o=oid)
        return found if found and found[0]["status"] == "succeeded" else None

    [refund] = await eventually(refunded, timeout=60)
    assert refund["kind"] == "cancelled_order" and refund["amount_fen"] == order["total_fen"]
    assert await events(db, oid, "payment.succeeded") == 0
    assert await events(db, oid, "payment.refunded") == 0
    assert await order_status(http, suite, me, oid) == "cancelled"


async def test_a_cancelled_unpaid_order_is_closed_at_wechat(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine
) -> None:
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    prepay_id = prepay_id_of(await prepay(http, suite.payment, me, oid))
    await http.post(f"{suite.order}/api/v1/orders/{oid}/cancel", headers=member(me))

    async def closed() -> bool:
        return bool((await payment_of(db, oid))["status"] == "closed")

    await eventually(closed, timeout=60)
    late = await http.post(f"{suite.sim}/sandbox/pay", json={"prepay_id": prepay_id})
    assert late.status_code == 409  # WeChat refuses to take money for a closed order


async def test_reconciliation_finds_each_planted_difference(
    http: httpx.AsyncClient, suite: Suite, db: AsyncEngine, wechatpay_keys: DevKeys
) -> None:
    today = datetime.now(CHINA).date()
    # 1. Paid at WeChat, unknown here.
    pay = client_for(suite.sim, wechatpay_keys)
    stranger = "X" + uuid.uuid4().hex[:20]
    try:
        foreign_prepay = await pay.prepay_jsapi(
            JsapiPrepay(
                description="not ours",
                out_trade_no=stranger,
                notify_url="http://127.0.0.1:9/nowhere",
                amount=PrepayAmount(total=777),
                payer=Payer(openid="o-stranger"),
                time_expire=datetime.now(UTC) + timedelta(minutes=30),
            )
        )
    finally:
        await pay.aclose()
    await sandbox_pay(http, suite, foreign_prepay)
    # 2. Recorded here, unknown at WeChat.
    ghost = uuid.uuid4()
    async with AsyncSession(db) as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO payments (id, order_id, member_id, out_trade_no, amount_fen,"
                " description, status, transaction_id, paid_fen, paid_at)"
                " VALUES (:id, :o, :m, :no, 500, 'ghost', 'paid', :tx, 500, now())"
            ),
            {"id": uuid.uuid4(), "o": ghost, "m": uuid.uuid4(), "no": ghost.hex, "tx": ghost.hex},
        )
    # 3. Paid at WeChat with another amount than the order's.
    me, order = await new_order(http, suite)
    oid = order["order_id"]
    await sandbox_pay(
        http, suite, prepay_id_of(await prepay(http, suite.payment, me, oid)), total=2
    )

    async def flagged() -> bool:
        return bool((await payment_of(db, oid))["status"] == "flagged")

    await eventually(flagged, timeout=60)
    # And one that matches: not reported.
    _, matching, _ = await paid_order(http, suite)

    url = f"{suite.payment}/admin/v1/payments/reconciliations"
    ran = await http.post(url, json={"date": today.isoformat()}, headers=FINANCE)
    assert ran.status_code == 201, ran.text
    report = ran.json()
    assert report["status"] == "differences" and report["bill_date"] == today.isoformat()
    found = {(d["kind"], d["out_trade_no"]): d for d in report["differences"]}
    assert found[("missing_here", stranger)]["wechat_fen"] == 777
    assert found[("missing_at_wechat", ghost.hex)]["our_fen"] == 500
    mismatch = found[("amount_mismatch", uuid.UUID(oid).hex)]
    assert mismatch["wechat_fen"] == 2 and mismatch["our_fen"] == order["total_fen"]
    assert not [
        d for d in report["differences"] if d["out_trade_no"] == uuid.UUID(matching["order_id"]).hex
    ]

    listed = await http.get(url, headers=FINANCE, params={"page_size": 100})
    assert listed.status_code == 200 and report["id"] in {r["id"] for r in listed.json()["items"]}
    operator = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "operator"}
    forbidden = await http.get(url, headers=operator)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    future = await http.post(
        url, json={"date": (today + timedelta(days=2)).isoformat()}, headers=FINANCE
    )
    assert future.status_code == 422 and "error" in future.json()

    # The consumer's daily run reconciled yesterday on its own, once.
    async def daily() -> list[dict[str, Any]] | None:
        items = (await http.get(url, headers=FINANCE, params={"page_size": 100})).json()["items"]
        mine = [r for r in items if r["run_by"] == "system"]
        return mine or None

    runs = await eventually(daily, timeout=60)
    assert [r["bill_date"] for r in runs] == [(today - timedelta(days=1)).isoformat()]
