"""WeChat Pay notifications end to end: prepay → ``POST /sandbox/pay`` → the simulator sends
the signed, encrypted notification to a receiver that verifies and decrypts it with our
``NotificationParser`` (what the notify endpoint will use); retries, duplicates, SIGNTEST
probes, refunds, and the key dispatch by ``Wechatpay-Serial``. wechatpayv3 cross-checks."""

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from payment.wechatpay import WeChatPayClient
from payment.wechatpay.errors import WeChatPayDecryptionFailed, WeChatPaySignatureInvalid
from payment.wechatpay.models import (
    JsapiPrepay,
    Payer,
    PrepayAmount,
    RefundCreate,
    RefundRequestAmount,
)
from wechat_sim.pay.crypto import encrypt
from wechat_sim.pay.keys import PUB_KEY_PUBLIC, DevKeys
from wechatpayv3 import utils as oracle  # type: ignore[import-untyped]

from tests.apps.wechatpay_kit import Delivery, Receiver, client_for
from tests.support import eventually


@pytest.fixture
async def sim(wechat_sim: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wechat_sim, timeout=30) as client:
        await client.delete("/sandbox/pay/faults")
        await client.post(
            "/sandbox/pay/settings",
            json={"certificates_enabled": True, "hold_refunds": False, "notify_signer": "auto"},
        )
        yield client
        await client.post("/sandbox/pay/settings", json={"notify_signer": "auto"})


@pytest.fixture
async def pay(wechat_sim: str, wechatpay_keys: DevKeys) -> AsyncIterator[WeChatPayClient]:
    client = client_for(wechat_sim, wechatpay_keys)
    yield client
    await client.aclose()


@pytest.fixture
async def receiver(pay: WeChatPayClient) -> AsyncIterator[Receiver]:
    server = Receiver(pay.notifications)
    await server.start()
    yield server
    await server.stop()


def new_name() -> str:
    return uuid.uuid4().hex[:12]


async def pay_order(
    pay: WeChatPayClient, sim: httpx.AsyncClient, notify_url: str, total: int = 19900
) -> tuple[str, str]:
    """A prepaid and paid order: (out_trade_no, prepay_id)."""
    out_trade_no = "N" + uuid.uuid4().hex[:24]
    prepay_id = await pay.prepay_jsapi(
        JsapiPrepay(
            description="连衣裙",
            out_trade_no=out_trade_no,
            notify_url=notify_url,
            amount=PrepayAmount(total=total),
            payer=Payer(openid="o-shopper-2"),
            time_expire=datetime.now(UTC) + timedelta(minutes=15),
        )
    )
    paid = await sim.post("/sandbox/pay", json={"prepay_id": prepay_id})
    assert paid.status_code == 200, paid.text
    return out_trade_no, prepay_id


async def accepted(receiver: Receiver, name: str, count: int = 1) -> list[Delivery]:
    async def enough() -> list[Delivery] | None:
        got = receiver.accepted(name)
        return got if len(got) >= count else None

    return await eventually(enough, timeout=20)


async def listed_for(sim: httpx.AsyncClient, out_trade_no: str) -> list[dict[str, Any]]:
    """The simulator's record of the notifications of one order."""
    found = await sim.get("/sandbox/pay/notifications", params={"out_trade_no": out_trade_no})
    return list(found.json())


def header(delivery: Delivery, name: str) -> str:
    return next(v for k, v in delivery.headers.items() if k.lower() == name.lower())


async def test_payment_notification_verifies_and_decrypts(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver, wechatpay_keys: DevKeys
) -> None:
    name = new_name()
    out_trade_no, _ = await pay_order(pay, sim, receiver.url(name), total=4500)
    [delivery] = await accepted(receiver, name)
    notification = delivery.notification
    assert notification is not None and delivery.verdict == "ok"
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.resource_type == "encrypt-resource"
    assert notification.original_type == "transaction"
    uuid.UUID(notification.id)  # real ids are UUIDs
    # Our requests name the public key: the notification is signed with it.
    assert notification.serial == wechatpay_keys.pub_key_id
    tx = notification.transaction()
    assert tx.out_trade_no == out_trade_no and tx.trade_state == "SUCCESS"
    assert tx.mchid == pay.config.mchid and tx.appid == pay.config.appid
    assert tx.amount is not None and tx.amount.total == 4500
    assert tx.transaction_id and tx.success_time is not None

    # wechatpayv3 agrees with the signature and the decryption.
    public_key = oracle.load_public_key(wechatpay_keys.path(PUB_KEY_PUBLIC).read_text())
    assert oracle.rsa_verify(
        header(delivery, "Wechatpay-Timestamp"),
        header(delivery, "Wechatpay-Nonce"),
        delivery.body.decode(),
        header(delivery, "Wechatpay-Signature"),
        public_key,
    )
    assert header(delivery, "Wechatpay-Signature-Type") == "WECHATPAY2-SHA256-RSA2048"
    resource = json.loads(delivery.body)["resource"]
    assert len(resource["nonce"]) == 12 and resource["associated_data"] == "transaction"
    plain = oracle.aes_decrypt(
        resource["nonce"],
        resource["ciphertext"],
        resource["associated_data"],
        pay.config.apiv3_key.decode(),
    )
    assert json.loads(plain) == notification.resource

    listed = (
        await sim.get("/sandbox/pay/notifications", params={"out_trade_no": out_trade_no})
    ).json()
    assert [n["delivered"] for n in listed] == [True]


async def test_a_failing_receiver_is_retried_with_fresh_signatures(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver
) -> None:
    name = new_name()
    receiver.fail_first[name] = 3
    out_trade_no, _ = await pay_order(pay, sim, receiver.url(name))
    await accepted(receiver, name)
    deliveries = receiver.deliveries[name]
    assert [d.status for d in deliveries] == [500, 500, 500, 204]
    assert all(d.verdict == "ok" for d in deliveries)
    # The same notification each time, each attempt signed anew.
    assert len({json.loads(d.body)["id"] for d in deliveries}) == 1
    assert len({header(d, "Wechatpay-Nonce") for d in deliveries}) == 4
    assert len({header(d, "Wechatpay-Signature") for d in deliveries}) == 4

    async def recorded() -> list[int] | None:
        [n] = (
            await sim.get("/sandbox/pay/notifications", params={"out_trade_no": out_trade_no})
        ).json()
        return [a["status"] for a in n["attempts"]] if n["delivered"] else None

    assert await eventually(recorded) == [500, 500, 500, 204]


async def test_duplicate_deliveries_arrive_and_each_one_verifies(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver
) -> None:
    name = new_name()
    out_trade_no, _ = await pay_order(pay, sim, receiver.url(name))
    [first] = await accepted(receiver, name)
    [listed] = (
        await sim.get("/sandbox/pay/notifications", params={"out_trade_no": out_trade_no})
    ).json()
    copies = await sim.post(
        f"/sandbox/pay/notifications/{listed['id']}/duplicates", json={"copies": 5}
    )
    assert copies.json()["statuses"] == [204] * 5
    got = receiver.accepted(name)
    assert len(got) == 6
    assert {d.notification.id for d in got if d.notification} == {listed["id"]}
    assert first.notification is not None
    assert {d.notification.resource["transaction_id"] for d in got if d.notification} == {
        first.notification.resource["transaction_id"]
    }


async def test_a_signtest_probe_is_refused(
    sim: httpx.AsyncClient, receiver: Receiver, wechatpay_keys: DevKeys
) -> None:
    name = new_name()
    probe = await sim.post("/sandbox/pay/signtest-probe", json={"notify_url": receiver.url(name)})
    assert probe.json()["statuses"] == [401]  # never 2xx: WeChat flags that as a defect
    [delivery] = receiver.deliveries[name]
    assert delivery.verdict == "signtest" and delivery.notification is None
    assert header(delivery, "Wechatpay-Signature").startswith("WECHATPAY/SIGNTEST/")


async def test_forged_notifications_are_refused(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver, wechatpay_keys: DevKeys
) -> None:
    name = new_name()
    await pay_order(pay, sim, receiver.url(name))
    [genuine] = await accepted(receiver, name)
    headers = {k.lower(): v for k, v in genuine.headers.items()}
    body = genuine.body
    parse = pay.notifications.parse

    def signed(ts: int, payload: bytes) -> dict[str, str]:
        nonce = uuid.uuid4().hex
        message = f"{ts}\n{nonce}\n".encode() + payload + b"\n"
        signature = wechatpay_keys.pub_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "Wechatpay-Timestamp": str(ts),
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
            "Wechatpay-Serial": wechatpay_keys.pub_key_id,
        }

    # Our own signature over the same bytes is accepted: the cases below differ in one thing.
    assert (await parse(signed(int(time.time()), body), body)).id == json.loads(body)["id"]
    forged_signature = base64.b64encode(b"x" * 256).decode()
    cases = [
        ("bad_signature", headers, body.replace(b'"summary":"', b'"summary":"X', 1)),
        ("bad_signature", headers | {"wechatpay-signature": forged_signature}, body),
        ("stale_timestamp", signed(int(time.time()) - 301, body), body),
        ("missing_headers", {k: v for k, v in headers.items() if k != "wechatpay-nonce"}, body),
        ("unknown_serial", headers | {"wechatpay-serial": "PUB_KEY_ID_0000000000000000"}, body),
    ]
    for reason, forged_headers, forged_body in cases:
        with pytest.raises(WeChatPaySignatureInvalid) as refused:
            await parse(forged_headers, forged_body)
        assert refused.value.reason == reason

    # Validly signed but encrypted with another APIv3 key: decryption refuses it.
    envelope = json.loads(body)
    envelope["resource"] = {
        "original_type": "transaction",
        **encrypt("y" * 32, b"{}", "transaction"),
    }
    other = json.dumps(envelope).encode()
    with pytest.raises(WeChatPayDecryptionFailed):
        await parse(signed(int(time.time()), other), other)


async def test_certificate_signed_notifications_after_a_rotation_refresh_once(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver
) -> None:
    rotated = (await sim.post("/sandbox/pay/certificates/rotate")).json()
    await sim.post("/sandbox/pay/settings", json={"notify_signer": "certificate"})
    name = new_name()
    assert pay.trust.certificates == []  # public-key mode: no certificate known yet
    await pay_order(pay, sim, receiver.url(name))
    await pay_order(pay, sim, receiver.url(name))
    got = await accepted(receiver, name, count=2)
    assert {d.notification.serial for d in got if d.notification} == {rotated["serial_no"]}
    assert pay.trust.refreshes == 1  # the first unknown serial downloaded them, once
    assert receiver.deliveries[name][0].status == 204  # no retry was needed


async def test_refund_notification(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver
) -> None:
    name = new_name()
    out_trade_no, _ = await pay_order(pay, sim, receiver.url(name), total=8800)
    out_refund_no = "RF" + uuid.uuid4().hex[:20]
    refund = await pay.create_refund(
        RefundCreate(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            reason="七天无理由",
            notify_url=receiver.url(name + "-refund"),
            amount=RefundRequestAmount(refund=8800, total=8800),
        )
    )
    assert refund.status == "PROCESSING"
    [delivery] = await accepted(receiver, name + "-refund")
    assert delivery.notification is not None
    assert delivery.notification.event_type == "REFUND.SUCCESS"
    assert delivery.notification.original_type == "refund"
    notice = delivery.notification.refund()
    assert notice.out_refund_no == out_refund_no and notice.refund_status == "SUCCESS"
    assert notice.out_trade_no == out_trade_no and notice.refund_id == refund.refund_id
    assert notice.amount.refund == 8800 and notice.amount.total == 8800
    assert (await pay.query_refund(out_refund_no)).status == "SUCCESS"


async def test_a_tampered_amount_reaches_the_merchant_as_paid(
    pay: WeChatPayClient, sim: httpx.AsyncClient, receiver: Receiver
) -> None:
    """The sandbox can pay another amount than ordered: the merchant must compare."""
    name = new_name()
    out_trade_no = "N" + uuid.uuid4().hex[:24]
    prepay_id = await pay.prepay_jsapi(
        JsapiPrepay(
            description="T恤",
            out_trade_no=out_trade_no,
            notify_url=receiver.url(name),
            amount=PrepayAmount(total=9900),
            payer=Payer(openid="o-shopper-3"),
        )
    )
    await sim.post("/sandbox/pay", json={"prepay_id": prepay_id, "total": 1})
    [delivery] = await accepted(receiver, name)
    assert delivery.notification is not None
    tx = delivery.notification.transaction()
    assert tx.amount is not None and tx.amount.total == 1
