"""Our WeChat Pay v3 client against the real simulator process (same code as production,
pointed at the simulator's base URL): typed calls, state machines, errors, verification
of every answer, certificates and the public-key mode, bills."""

import dataclasses
import gzip
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from payment.wechatpay import WeChatPayClient, config_from_settings
from payment.wechatpay.bills import parse_trade_bill
from payment.wechatpay.errors import (
    WeChatPayBillInvalid,
    WeChatPayNotFound,
    WeChatPayOrderClosed,
    WeChatPayOrderPaid,
    WeChatPayOutTradeNoUsed,
    WeChatPayRejected,
    WeChatPaySignatureInvalid,
    WeChatPaySignError,
    WeChatPayUnavailable,
)
from payment.wechatpay.models import (
    JsapiPrepay,
    Payer,
    PrepayAmount,
    RefundCreate,
    RefundRequestAmount,
    TradeBillLink,
)
from shared.http import create_http_client
from wechat_sim.pay.keys import DevKeys, make_certificate, new_rsa_key, serial_hex

from tests.apps.wechatpay_kit import client_for, settings_for
from tests.support import eventually


@pytest.fixture
async def sim(wechat_sim: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's sandbox, reset around each test (faults and switches are global)."""
    async with httpx.AsyncClient(base_url=wechat_sim, timeout=10) as client:
        await client.delete("/sandbox/pay/faults")
        await client.post(
            "/sandbox/pay/settings",
            json={"certificates_enabled": True, "hold_refunds": False, "notify_signer": "auto"},
        )
        yield client
        await client.delete("/sandbox/pay/faults")


@pytest.fixture
async def pay(wechat_sim: str, wechatpay_keys: DevKeys) -> AsyncIterator[WeChatPayClient]:
    client = client_for(wechat_sim, wechatpay_keys)
    yield client
    await client.aclose()


def new_out_trade_no() -> str:
    return "T" + uuid.uuid4().hex[:30]


# One deadline for the whole module: the same order must be the same request every time.
DEADLINE = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def order(out_trade_no: str, total: int = 19900, **over: object) -> JsapiPrepay:
    fields: dict[str, object] = {
        "description": "连衣裙 红 M",
        "out_trade_no": out_trade_no,
        "notify_url": "http://127.0.0.1:9/notify",
        "amount": PrepayAmount(total=total),
        "payer": Payer(openid="o-shopper-1"),
        "time_expire": DEADLINE,
        "attach": "order-1",
    }
    return JsapiPrepay.model_validate(fields | over)


async def paid_order(pay: WeChatPayClient, sim: httpx.AsyncClient, total: int = 19900) -> str:
    out_trade_no = new_out_trade_no()
    prepay_id = await pay.prepay_jsapi(order(out_trade_no, total))
    assert (await sim.post("/sandbox/pay", json={"prepay_id": prepay_id})).status_code == 200
    return out_trade_no


async def stats(sim: httpx.AsyncClient) -> dict[str, int]:
    return dict((await sim.get("/sandbox/pay/stats")).json())


# -- orders -------------------------------------------------------------------------------


async def test_prepay_query_pay_and_close(pay: WeChatPayClient, sim: httpx.AsyncClient) -> None:
    out_trade_no = new_out_trade_no()
    prepay_id = await pay.prepay_jsapi(order(out_trade_no))
    assert prepay_id.startswith("wx")
    # The same order again gets the same (live) prepay_id; other parameters are refused.
    assert await pay.prepay_jsapi(order(out_trade_no)) == prepay_id
    with pytest.raises(WeChatPayOutTradeNoUsed):
        await pay.prepay_jsapi(order(out_trade_no, total=1))

    unpaid = await pay.query_by_out_trade_no(out_trade_no)
    assert unpaid.trade_state == "NOTPAY"
    assert unpaid.transaction_id is None and unpaid.payer is None

    paid = await sim.post("/sandbox/pay", json={"prepay_id": prepay_id})
    assert paid.status_code == 200, paid.text
    tx = await pay.query_by_out_trade_no(out_trade_no)
    assert tx.trade_state == "SUCCESS" and tx.transaction_id == paid.json()["transaction_id"]
    assert tx.amount is not None and tx.amount.total == 19900 and tx.amount.payer_total == 19900
    assert tx.payer is not None and tx.payer.openid == "o-shopper-1"
    assert tx.mchid == pay.config.mchid and tx.appid == pay.config.appid
    assert tx.attach == "order-1" and tx.success_time is not None
    assert (await pay.query_by_transaction_id(tx.transaction_id or "")).out_trade_no == out_trade_no

    with pytest.raises(WeChatPayOrderPaid):
        await pay.close(out_trade_no)
    with pytest.raises(WeChatPayOrderPaid):
        await pay.prepay_jsapi(order(out_trade_no))
    # Paying twice is impossible.
    assert (await sim.post("/sandbox/pay", json={"prepay_id": prepay_id})).status_code == 409


async def test_close_unpaid_order_then_it_cannot_be_paid(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    out_trade_no = new_out_trade_no()
    prepay_id = await pay.prepay_jsapi(order(out_trade_no))
    await pay.close(out_trade_no)  # a signed 204 with an empty body
    await pay.close(out_trade_no)  # closing again is harmless
    assert (await pay.query_by_out_trade_no(out_trade_no)).trade_state == "CLOSED"
    assert (await sim.post("/sandbox/pay", json={"prepay_id": prepay_id})).status_code == 409
    with pytest.raises(WeChatPayOrderClosed):
        await pay.prepay_jsapi(order(out_trade_no))


async def test_unknown_order_and_bad_parameters_are_typed(pay: WeChatPayClient) -> None:
    with pytest.raises(WeChatPayNotFound) as missing:
        await pay.query_by_out_trade_no(new_out_trade_no())
    assert missing.value.wechat_code == "ORDER_NOT_EXIST" and not missing.value.retryable
    with pytest.raises(WeChatPayNotFound):
        await pay.query_refund("R-unknown")
    with pytest.raises(WeChatPayRejected) as bad_url:
        await pay.prepay_jsapi(order(new_out_trade_no(), notify_url="http://x.test/n?a=1"))
    assert bad_url.value.wechat_code == "PARAM_ERROR" and bad_url.value.http_status == 400


async def test_wechat_errors_say_whether_to_retry(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    await sim.post(
        "/sandbox/pay/faults", json={"kind": "error", "api": "prepay", "code": "SYSTEM_ERROR"}
    )
    out_trade_no = new_out_trade_no()
    with pytest.raises(WeChatPayUnavailable) as system:
        await pay.prepay_jsapi(order(out_trade_no))
    assert system.value.retryable and system.value.wechat_code == "SYSTEM_ERROR"
    assert system.value.request_id  # WeChat's Request-ID, for the logs
    await sim.post(
        "/sandbox/pay/faults",
        json={"kind": "error", "api": "query", "status": 429, "code": "FREQUENCY_LIMITED"},
    )
    with pytest.raises(WeChatPayUnavailable):
        await pay.query_by_out_trade_no(out_trade_no)
    await sim.post(
        "/sandbox/pay/faults",
        json={"kind": "error", "api": "prepay", "status": 403, "code": "NO_AUTH", "message": "x"},
    )
    with pytest.raises(WeChatPayRejected) as no_auth:
        await pay.prepay_jsapi(order(out_trade_no))
    assert not no_auth.value.retryable and no_auth.value.wechat_code == "NO_AUTH"
    # Retrying with the same out_trade_no after the failures works.
    assert (await pay.prepay_jsapi(order(out_trade_no))).startswith("wx")


async def test_simulator_refuses_a_request_signed_with_another_key(
    wechat_sim: str, wechatpay_keys: DevKeys
) -> None:
    config = config_from_settings(settings_for(wechat_sim, wechatpay_keys))
    forged = WeChatPayClient(
        create_http_client(wechat_sim), dataclasses.replace(config, merchant_key=new_rsa_key())
    )
    try:
        with pytest.raises(WeChatPaySignError) as refused:
            await forged.query_by_out_trade_no(new_out_trade_no())
        assert refused.value.http_status == 401 and refused.value.wechat_code == "SIGN_ERROR"
        detail = refused.value.detail
        assert detail["detail"]["issue"] == "sign not match"
        assert detail["sign_information"]["method"] == "GET"
    finally:
        await forged.aclose()


async def test_simulator_refuses_a_stale_request_timestamp(
    wechat_sim: str, wechatpay_keys: DevKeys
) -> None:
    stale = WeChatPayClient(
        create_http_client(wechat_sim),
        config_from_settings(settings_for(wechat_sim, wechatpay_keys)),
        clock=lambda: time.time() - 301,
    )
    try:
        with pytest.raises(WeChatPaySignError):
            await stale.query_by_out_trade_no(new_out_trade_no())
    finally:
        await stale.aclose()


# -- answers that must not be trusted ----------------------------------------------------


@pytest.mark.parametrize(
    ("spoiler", "reason"),
    [
        ("signtest", "signtest"),
        ("stale_timestamp", "stale_timestamp"),
        ("tampered_body", "bad_signature"),
        ("bad_signature", "bad_signature"),
        ("unsigned", "missing_headers"),
    ],
)
async def test_spoiled_answers_are_refused(
    pay: WeChatPayClient, sim: httpx.AsyncClient, spoiler: str, reason: str
) -> None:
    out_trade_no = new_out_trade_no()
    await pay.prepay_jsapi(order(out_trade_no))
    await sim.post("/sandbox/pay/faults", json={"kind": spoiler, "api": "query"})
    with pytest.raises(WeChatPaySignatureInvalid) as refused:
        await pay.query_by_out_trade_no(out_trade_no)
    assert refused.value.reason == reason and refused.value.retryable
    # The next answer is genuine again.
    assert (await pay.query_by_out_trade_no(out_trade_no)).trade_state == "NOTPAY"


@pytest.mark.parametrize("spoiler", ["tampered_body", "unsigned", "signtest"])
async def test_a_spoiled_empty_answer_is_refused_too(
    pay: WeChatPayClient, sim: httpx.AsyncClient, spoiler: str
) -> None:
    out_trade_no = new_out_trade_no()
    await pay.prepay_jsapi(order(out_trade_no))
    await sim.post("/sandbox/pay/faults", json={"kind": spoiler, "api": "close"})
    with pytest.raises(WeChatPaySignatureInvalid):
        await pay.close(out_trade_no)  # a 204: its signature covers the empty body
    await pay.close(out_trade_no)


async def test_unknown_serial_downloads_certificates_once_then_fails(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    out_trade_no = new_out_trade_no()
    await pay.prepay_jsapi(order(out_trade_no))
    before = (await stats(sim)).get("certificates", 0)
    await sim.post(
        "/sandbox/pay/faults", json={"kind": "unknown_serial", "api": "query", "times": 3}
    )
    for _ in range(3):
        with pytest.raises(WeChatPaySignatureInvalid) as refused:
            await pay.query_by_out_trade_no(out_trade_no)
        assert refused.value.reason == "unknown_serial"
    # One download for the three answers (then the refresh interval holds further ones).
    assert (await stats(sim)).get("certificates", 0) == before + 1
    assert pay.trust.refreshes == 1


async def test_certificate_mode_downloads_and_verifies_with_platform_certificates(
    wechat_sim: str, wechatpay_keys: DevKeys, sim: httpx.AsyncClient
) -> None:
    pay = client_for(wechat_sim, wechatpay_keys, wechatpay_mode="certificate")
    fresh = None
    try:
        out_trade_no = new_out_trade_no()
        await pay.prepay_jsapi(order(out_trade_no))  # first call: certificates downloaded
        served = set((await sim.get("/sandbox/pay/keys")).json()["platform_serials"])
        assert {c.serial_no for c in pay.trust.certificates} == served
        assert pay.trust.refreshes == 1
        await pay.query_by_out_trade_no(out_trade_no)
        assert pay.trust.refreshes == 1

        # A rotation: WeChat lists old and new; a new client trusts both and names the newest.
        rotated = (await sim.post("/sandbox/pay/certificates/rotate")).json()
        fresh = client_for(wechat_sim, wechatpay_keys, wechatpay_mode="certificate")
        assert (await fresh.query_by_out_trade_no(out_trade_no)).trade_state == "NOTPAY"
        assert fresh.trust.newest_serial() == rotated["serial_no"]
        assert {c.serial_no for c in fresh.trust.certificates} == set(rotated["serials"])
        # The old client still names the old certificate, which stays valid.
        await pay.query_by_out_trade_no(out_trade_no)
        assert pay.trust.refreshes == 1
    finally:
        await pay.aclose()
        if fresh is not None:
            await fresh.aclose()


async def test_public_key_only_merchant_cannot_download_certificates(
    wechat_sim: str, wechatpay_keys: DevKeys, sim: httpx.AsyncClient
) -> None:
    await sim.post("/sandbox/pay/settings", json={"certificates_enabled": False})
    pay = client_for(wechat_sim, wechatpay_keys)
    try:
        out_trade_no = new_out_trade_no()
        await pay.prepay_jsapi(order(out_trade_no))  # public-key mode needs no certificate
        with pytest.raises(WeChatPayRejected) as refused:
            await pay.download_certificates()
        assert refused.value.http_status == 403
        await sim.post("/sandbox/pay/faults", json={"kind": "unknown_serial"})
        with pytest.raises(WeChatPaySignatureInvalid):
            await pay.query_by_out_trade_no(out_trade_no)
        assert pay.trust.refreshes == 1  # tried once, failed, did not loop
    finally:
        await pay.aclose()


async def test_a_wrong_apiv3_key_cannot_read_certificates(
    wechat_sim: str, wechatpay_keys: DevKeys, sim: httpx.AsyncClient
) -> None:
    from payment.wechatpay.errors import WeChatPayDecryptionFailed

    pay = client_for(wechat_sim, wechatpay_keys, wechatpay_apiv3_key="x" * 32)
    try:
        with pytest.raises(WeChatPayDecryptionFailed):
            await pay.download_certificates()
    finally:
        await pay.aclose()


# -- refunds --------------------------------------------------------------------------------


async def test_refund_processing_then_success_and_retries_are_one_refund(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    await sim.post("/sandbox/pay/settings", json={"hold_refunds": True})
    out_trade_no = await paid_order(pay, sim, total=10000)
    request = RefundCreate(
        out_trade_no=out_trade_no,
        out_refund_no="R" + uuid.uuid4().hex[:20],
        reason="尺码不合适",
        amount=RefundRequestAmount(refund=3000, total=10000),
    )
    refund = await pay.create_refund(request)
    assert refund.status == "PROCESSING" and refund.amount.refund == 3000
    again = await pay.create_refund(request)  # a retry with the same out_refund_no
    assert again.refund_id == refund.refund_id
    with pytest.raises(WeChatPayRejected):  # same number, other amount
        await pay.create_refund(request.model_copy(update={"reason": "其他"}))
    with pytest.raises(WeChatPayRejected) as too_much:
        await pay.create_refund(
            RefundCreate(
                out_trade_no=out_trade_no,
                out_refund_no="R" + uuid.uuid4().hex[:20],
                amount=RefundRequestAmount(refund=7001, total=10000),
            )
        )
    assert too_much.value.wechat_code == "INVALID_REQUEST"

    settled = await sim.post(f"/sandbox/pay/refunds/{request.out_refund_no}/settle", json={})
    assert settled.json() == {"status": "SUCCESS"}
    done = await pay.query_refund(request.out_refund_no)
    assert done.status == "SUCCESS" and done.success_time is not None
    assert (await pay.query_by_out_trade_no(out_trade_no)).trade_state == "REFUND"


async def test_refunds_settle_by_themselves(pay: WeChatPayClient, sim: httpx.AsyncClient) -> None:
    out_trade_no = await paid_order(pay, sim, total=500)
    out_refund_no = "R" + uuid.uuid4().hex[:20]
    await pay.create_refund(
        RefundCreate(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            amount=RefundRequestAmount(refund=500, total=500),
        )
    )

    async def succeeded() -> bool:
        return (await pay.query_refund(out_refund_no)).status == "SUCCESS"

    await eventually(succeeded, timeout=10)


async def test_refund_of_an_unpaid_order_is_refused(pay: WeChatPayClient) -> None:
    out_trade_no = new_out_trade_no()
    await pay.prepay_jsapi(order(out_trade_no))
    with pytest.raises(WeChatPayRejected):
        await pay.create_refund(
            RefundCreate(
                out_trade_no=out_trade_no,
                out_refund_no="R" + uuid.uuid4().hex[:20],
                amount=RefundRequestAmount(refund=100, total=19900),
            )
        )


# -- bills ------------------------------------------------------------------------------------


def china_today() -> datetime:
    return datetime.now(UTC) + timedelta(hours=8)


async def test_trade_bill_download_gunzips_checks_sha1_and_reads_yuan(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    await sim.post("/sandbox/pay/settings", json={"hold_refunds": True})
    paid = await paid_order(pay, sim, total=12345)
    refunded = await paid_order(pay, sim, total=2000)
    out_refund_no = "R" + uuid.uuid4().hex[:20]
    await pay.create_refund(
        RefundCreate(
            out_trade_no=refunded,
            out_refund_no=out_refund_no,
            amount=RefundRequestAmount(refund=1500, total=2000),
        )
    )
    await sim.post(f"/sandbox/pay/refunds/{out_refund_no}/settle", json={})
    today = china_today().date()

    link = await pay.trade_bill(today)
    raw = await pay.download_bill(link)
    assert hashlib.sha1(raw).hexdigest() == link.hash_value
    bill = parse_trade_bill(raw)
    by_trade = {(r.out_trade_no, r.trade_state): r for r in bill.rows}
    assert by_trade[(paid, "SUCCESS")].total_fen == 12345
    assert by_trade[(paid, "SUCCESS")].settlement_total_fen == 12345
    assert by_trade[(refunded, "SUCCESS")].total_fen == 2000
    refund_row = by_trade[(refunded, "REFUND")]
    assert refund_row.refund_fen == 1500 and refund_row.out_refund_no == out_refund_no
    assert bill.summary.trade_count == len(bill.rows)
    assert bill.summary.refund_fen == sum(r.refund_fen for r in bill.rows)
    # The file itself: backtick-prefixed values, amounts in yuan.
    assert f"`{paid}".encode() in raw and b"`123.45" in raw

    # Not compressed when not asked.
    plain = await pay.trade_bill(today, "SUCCESS", gzip=False)
    content = await pay.download_bill(plain)
    assert {r.trade_state for r in parse_trade_bill(content).rows} == {"SUCCESS"}


async def test_a_bill_that_does_not_match_its_sha1_is_refused(
    pay: WeChatPayClient, sim: httpx.AsyncClient
) -> None:
    await paid_order(pay, sim, total=100)
    link = await pay.trade_bill(china_today().date())
    forged = TradeBillLink(hash_type="SHA1", hash_value="0" * 40, download_url=link.download_url)
    with pytest.raises(WeChatPayBillInvalid):
        await pay.download_bill(forged)
    # The file is gzip and its hash covers the decompressed bytes.
    data = await pay.download_bill(link)
    assert gzip.decompress(gzip.compress(data)) == data


async def test_bill_for_a_day_without_trades_or_in_the_future_is_refused(
    pay: WeChatPayClient,
) -> None:
    with pytest.raises(WeChatPayRejected) as empty:
        await pay.trade_bill((china_today() - timedelta(days=30)).date())
    assert empty.value.wechat_code == "NO_STATEMENT_EXIST"
    with pytest.raises(WeChatPayRejected):
        await pay.trade_bill((china_today() + timedelta(days=2)).date())


# -- configuration ----------------------------------------------------------------------------


def test_platform_certificates_from_a_file_are_trusted(
    tmp_path: object, wechatpay_keys: DevKeys
) -> None:
    from pathlib import Path

    from wechat_sim.pay.keys import PLATFORM_CERT

    extra_key = new_rsa_key()
    extra = make_certificate(extra_key, "another")
    bundle = Path(str(tmp_path)) / "platform.pem"
    from wechat_sim.pay.keys import cert_pem

    bundle.write_bytes(wechatpay_keys.path(PLATFORM_CERT).read_bytes() + cert_pem(extra))
    pay = client_for(
        "http://127.0.0.1:9",
        wechatpay_keys,
        wechatpay_platform_certificates_file=str(bundle),
        wechatpay_certificate_download=False,
    )
    assert {c.serial_no for c in pay.trust.certificates} == {
        wechatpay_keys.platform_serial,
        serial_hex(extra),
    }
