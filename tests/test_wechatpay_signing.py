"""WeChat Pay v3 signatures, verification, decryption and bills as pure units, cross-checked
with the helpers of the wechatpayv3 package (a test oracle, not a dependency of payment);
the last tests have the real simulator accept requests that wechatpayv3 signed."""

import asyncio
import gzip
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from payment.wechatpay.bills import parse_trade_bill, unpack, yuan_to_fen
from payment.wechatpay.crypto import DecryptionFailed, aes_gcm_decrypt, rsa_verify
from payment.wechatpay.errors import WeChatPayBillInvalid, WeChatPaySignatureInvalid
from payment.wechatpay.models import JsapiPrepay, RefundCreate
from payment.wechatpay.signing import authorization, request_message, response_message
from payment.wechatpay.trust import PlatformCertificate, TrustStore
from payment.wechatpay.verifier import Verifier
from pydantic import ValidationError
from wechat_sim.pay.bills import trade_bill
from wechat_sim.pay.crypto import encrypt
from wechat_sim.pay.keys import (
    MERCHANT_KEY,
    PUB_KEY_PUBLIC,
    DevKeys,
    key_pem,
    make_certificate,
    new_rsa_key,
    public_pem,
    serial_hex,
)
from wechat_sim.pay.state import PayOrder, PayRefund
from wechatpayv3 import utils as oracle  # type: ignore[import-untyped]

from tests.apps.wechatpay_kit import client_for

# -- request signing ----------------------------------------------------------------------


def test_request_message_is_the_official_example() -> None:
    message = request_message(
        "get",
        "/v3/pay/transactions/id/4200003100202606015015753674?mchid=1900007291",
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        b"",
    )
    assert message == (
        b"GET\n/v3/pay/transactions/id/4200003100202606015015753674?mchid=1900007291\n"
        b"1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )


def _params(header: str) -> dict[str, str]:
    schema, _, rest = header.partition(" ")
    assert schema == "WECHATPAY2-SHA256-RSA2048"
    return {k: v.strip('"') for k, v in (p.split("=", 1) for p in rest.split(","))}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v3/pay/transactions/out-trade-no/T-1?mchid=1900000001", b""),
        (
            "POST",
            "/v3/pay/transactions/jsapi",
            '{"description":"连衣裙","amount":{"total":1}}'.encode(),
        ),
    ],
)
def test_authorization_matches_wechatpayv3(
    monkeypatch: pytest.MonkeyPatch, method: str, url: str, body: bytes
) -> None:
    key = new_rsa_key()
    monkeypatch.setattr(oracle.time, "time", lambda: 1554208460.7)
    theirs = oracle.build_authorization(
        url, method, "1900000001", "ABC123", key, data=body.decode() or None, nonce_str="N0NCE"
    )
    ours = authorization(
        mchid="1900000001",
        serial_no="ABC123",
        key=key,
        method=method,
        canonical_url=url,
        timestamp="1554208460",
        nonce="N0NCE",
        body=body,
    )
    assert _params(ours) == _params(theirs)


def test_response_message_with_an_empty_body_ends_with_one_newline() -> None:
    assert response_message("1554208460", "abc", b"") == b"1554208460\nabc\n\n"
    assert response_message("1", "n", b"{}") == b"1\nn\n{}\n"


async def test_pay_sign_verifies_with_the_merchant_public_key(wechatpay_keys: DevKeys) -> None:
    client = client_for("http://127.0.0.1:9", wechatpay_keys)
    try:
        params = client.request_payment("wx2014102720093955", timestamp=1414561699, nonce="n0nce")
    finally:
        await client.aclose()
    fields = params.model_dump(by_alias=True)
    assert fields == {
        "timeStamp": "1414561699",  # a string of seconds
        "nonceStr": "n0nce",
        "package": "prepay_id=wx2014102720093955",
        "signType": "RSA",
        "paySign": params.pay_sign,
    }
    message = f"{client.config.appid}\n1414561699\nn0nce\nprepay_id=wx2014102720093955\n"
    merchant_public = wechatpay_keys.merchant_cert.public_key()
    assert isinstance(merchant_public, rsa.RSAPublicKey)
    assert rsa_verify(merchant_public, message.encode(), params.pay_sign)
    merchant_key = oracle.load_private_key(wechatpay_keys.path(MERCHANT_KEY).read_text())
    assert params.pay_sign == oracle.rsa_sign(merchant_key, message)
    assert not rsa_verify(
        merchant_public, message.replace("n0nce", "other").encode(), params.pay_sign
    )


# -- AES-256-GCM ----------------------------------------------------------------------------


@pytest.mark.parametrize("aad", ["transaction", "certificate", ""])
def test_decryption_matches_wechatpayv3(aad: str) -> None:
    apiv3_key = "0123456789abcdefghijABCDEFGHIJ01"
    plaintext = json.dumps({"out_trade_no": "T1", "描述": "连衣裙"}, ensure_ascii=False).encode()
    resource = encrypt(apiv3_key, plaintext, aad)
    ours = aes_gcm_decrypt(apiv3_key.encode(), resource["nonce"], resource["ciphertext"], aad)
    assert ours == plaintext
    assert (
        oracle.aes_decrypt(resource["nonce"], resource["ciphertext"], aad, apiv3_key)
        == ours.decode()
    )
    with pytest.raises(DecryptionFailed):
        aes_gcm_decrypt(b"x" * 32, resource["nonce"], resource["ciphertext"], aad)
    with pytest.raises(DecryptionFailed):
        aes_gcm_decrypt(apiv3_key.encode(), resource["nonce"], resource["ciphertext"], aad + "x")


# -- verification ------------------------------------------------------------------------------

PUB_ID = "PUB_KEY_ID_0114232134912410000000000000000"


def signed_headers(
    key: rsa.RSAPrivateKey, serial: str, body: bytes, *, ts: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    nonce = uuid.uuid4().hex
    signature = oracle.rsa_sign(key, response_message(timestamp, nonce, body).decode())
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


class Keys:
    def __init__(self) -> None:
        self.pub = new_rsa_key()
        self.platform = new_rsa_key()
        self.cert = make_certificate(self.platform, "platform")
        self.serial = serial_hex(self.cert)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


async def test_verifier_dispatches_between_public_key_and_certificates(keys: Keys) -> None:
    trust = TrustStore(
        public_key=keys.pub.public_key(), public_key_id=PUB_ID, certificates=[keys.cert]
    )
    verifier = Verifier(trust)
    body = b'{"prepay_id":"wx1"}'
    assert await verifier.verify(signed_headers(keys.pub, PUB_ID, body), body) == PUB_ID
    assert (
        await verifier.verify(signed_headers(keys.platform, keys.serial, body), body) == keys.serial
    )
    # Header names are case-insensitive (Starlette lower-cases them).
    lower = {k.lower(): v for k, v in signed_headers(keys.pub, PUB_ID, body).items()}
    assert await verifier.verify(lower, body) == PUB_ID
    # The platform key under the public key's id (and the reverse) does not verify.
    with pytest.raises(WeChatPaySignatureInvalid, match="signature"):
        await verifier.verify(signed_headers(keys.platform, PUB_ID, body), body)
    with pytest.raises(WeChatPaySignatureInvalid, match="signature"):
        await verifier.verify(signed_headers(keys.pub, keys.serial, body), body)
    # wechatpayv3 agrees on what verifies.
    h = signed_headers(keys.platform, keys.serial, body)
    pem = public_pem(keys.platform.public_key()).decode()
    args = (h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], body.decode(), h["Wechatpay-Signature"])
    assert oracle.rsa_verify(*args, oracle.load_public_key(pem))


@pytest.mark.parametrize(
    ("skew", "ok"), [(0, True), (299, True), (-299, True), (300, False), (-301, False)]
)
async def test_timestamp_window_is_under_five_minutes(keys: Keys, skew: int, ok: bool) -> None:
    now = 1_800_000_000
    verifier = Verifier(
        TrustStore(public_key=keys.pub.public_key(), public_key_id=PUB_ID), clock=lambda: now
    )
    headers = signed_headers(keys.pub, PUB_ID, b"", ts=now - skew)
    if ok:
        assert await verifier.verify(headers, b"") == PUB_ID
    else:
        with pytest.raises(WeChatPaySignatureInvalid) as refused:
            await verifier.verify(headers, b"")
        assert refused.value.reason == "stale_timestamp"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc="}, "signtest"),
        ({"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, "unsupported_signature_type"),
        ({"Wechatpay-Timestamp": "soon"}, "bad_timestamp"),
        ({"Wechatpay-Signature": "not base64!"}, "bad_signature"),
        ({"Wechatpay-Serial": ""}, "missing_headers"),
    ],
)
async def test_bad_headers_are_refused(keys: Keys, change: dict[str, str], reason: str) -> None:
    verifier = Verifier(TrustStore(public_key=keys.pub.public_key(), public_key_id=PUB_ID))
    headers = signed_headers(keys.pub, PUB_ID, b"{}") | change
    with pytest.raises(WeChatPaySignatureInvalid) as refused:
        await verifier.verify(headers, b"{}")
    assert refused.value.reason == reason


class Refresher:
    def __init__(self, certificates: list[PlatformCertificate], fail: bool = False) -> None:
        self.certificates = certificates
        self.fail = fail
        self.calls = 0

    async def __call__(self) -> list[PlatformCertificate]:
        self.calls += 1
        await asyncio.sleep(0.01)  # concurrent callers pile up behind this download
        if self.fail:
            raise httpx.ConnectError("down")
        return self.certificates


async def test_an_unknown_serial_downloads_certificates_once_for_concurrent_answers(
    keys: Keys,
) -> None:
    refresher = Refresher([PlatformCertificate.of(keys.cert)])
    verifier = Verifier(TrustStore(refresher=refresher))
    body = b'{"a":1}'
    results = await asyncio.gather(
        *(
            verifier.verify(signed_headers(keys.platform, keys.serial, body), body)
            for _ in range(10)
        )
    )
    assert results == [keys.serial] * 10
    assert refresher.calls == 1


async def test_a_serial_still_unknown_after_the_refresh_fails_and_waits_for_the_interval(
    keys: Keys,
) -> None:
    now = [1000.0]
    refresher = Refresher([])
    trust = TrustStore(refresher=refresher, min_interval_s=60, clock=lambda: now[0])
    verifier = Verifier(trust)
    for _ in range(3):
        with pytest.raises(WeChatPaySignatureInvalid) as refused:
            await verifier.verify(signed_headers(keys.platform, keys.serial, b""), b"")
        assert refused.value.reason == "unknown_serial"
    assert refresher.calls == 1
    now[0] += 61
    with pytest.raises(WeChatPaySignatureInvalid):
        await verifier.verify(signed_headers(keys.platform, keys.serial, b""), b"")
    assert refresher.calls == 2


async def test_a_failed_download_is_an_unknown_serial_not_a_crash(keys: Keys) -> None:
    refresher = Refresher([], fail=True)
    verifier = Verifier(TrustStore(refresher=refresher))
    with pytest.raises(WeChatPaySignatureInvalid) as refused:
        await verifier.verify(signed_headers(keys.platform, keys.serial, b""), b"")
    assert refused.value.reason == "unknown_serial" and refresher.calls == 1


def test_expired_certificates_are_not_kept(keys: Keys) -> None:
    old = make_certificate(new_rsa_key(), "old", years=0)  # expires now
    trust = TrustStore(certificates=[keys.cert, old])
    assert [c.serial_no for c in trust.certificates] == [keys.serial]


# -- models ---------------------------------------------------------------------------------------


def test_prepay_times_are_sent_in_china_time_and_numbers_are_checked() -> None:
    body = JsapiPrepay.model_validate(
        {
            "description": "连衣裙",
            "out_trade_no": "ORDER_123-4",
            "notify_url": "https://shop.example/notify",
            "amount": {"total": 100},
            "payer": {"openid": "o1"},
            "time_expire": datetime(2026, 1, 1, 2, 0, tzinfo=UTC),
        }
    ).model_dump(mode="json", exclude_none=True)
    assert body["time_expire"] == "2026-01-01T10:00:00+08:00"
    assert body["amount"] == {"total": 100, "currency": "CNY"}
    for bad in ({"out_trade_no": "a"}, {"out_trade_no": "有中文的单号"}, {"amount": {"total": 0}}):
        with pytest.raises(ValidationError):
            JsapiPrepay.model_validate(
                {
                    "description": "x",
                    "out_trade_no": "ORDER_123",
                    "notify_url": "https://a/n",
                    "amount": {"total": 1},
                    "payer": {"openid": "o"},
                }
                | bad
            )


def test_a_refund_names_exactly_one_order() -> None:
    amount = {"refund": 1, "total": 1}
    RefundCreate.model_validate(
        {"out_trade_no": "ORDER_1", "out_refund_no": "R1", "amount": amount}
    )
    for ids in ({}, {"out_trade_no": "ORDER_1", "transaction_id": "4200"}):
        with pytest.raises(ValidationError):
            RefundCreate.model_validate({"out_refund_no": "R1", "amount": amount} | ids)
    dumped = RefundCreate.model_validate(
        {"transaction_id": "4200", "out_refund_no": "R1", "amount": amount | {"from": []}}
    ).model_dump(mode="json", exclude_none=True, by_alias=True)
    assert dumped["amount"] == {"refund": 1, "total": 1, "currency": "CNY", "from": []}


# -- bills ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yuan", "fen"), [("123.45", 12345), ("0.1", 10), ("-0.01", -1), ("", 0), ("7", 700)]
)
def test_yuan_to_fen(yuan: str, fen: int) -> None:
    assert yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("bad", ["1.234", "abc"])
def test_amounts_that_are_not_fen_are_refused(bad: str) -> None:
    with pytest.raises(WeChatPayBillInvalid):
        yuan_to_fen(bad)


def _sim_bill() -> bytes:
    now = time.time()
    paid = PayOrder(
        appid="wx1", mchid="1900000001", out_trade_no="ORDER_A", description="连衣裙,红色",
        notify_url="https://a/n", total=12345, openid="o1", attach=None, time_expire=None,
        fingerprint="", prepay_id="wx1", prepay_at=now, wants_serial=None, trade_state="REFUND",
        transaction_id="4200000000000000000000000001", success_time=now, paid_total=12345,
    )  # fmt: skip
    refund = PayRefund(
        refund_id="50300", out_refund_no="R-A", order=paid, refund=345, reason=None,
        notify_url=None, fingerprint="", create_time=now, status="SUCCESS", success_time=now,
    )  # fmt: skip
    paid.refunds.append(refund)
    content = trade_bill([paid], (datetime.now(UTC) + timedelta(hours=8)).date(), "ALL")
    assert content is not None
    return content


def test_a_bill_from_the_simulator_parses_into_fen() -> None:
    content = _sim_bill()
    assert b"`123.45" in content and "`连衣裙".encode() in content
    bill = parse_trade_bill(content)
    success, refund = bill.rows
    assert (success.trade_state, success.total_fen, success.fee_fen) == ("SUCCESS", 12345, 74)
    assert (refund.trade_state, refund.refund_fen, refund.out_refund_no) == ("REFUND", 345, "R-A")
    assert success.description == "连衣裙,红色"  # a comma inside a value survives
    assert bill.summary.trade_count == 2
    assert (bill.summary.total_fen, bill.summary.refund_fen) == (12345, 345)


def test_unpack_gunzips_and_checks_the_sha1() -> None:
    content = _sim_bill()
    packed = gzip.compress(content)
    assert unpack(packed, "SHA1", hashlib.sha1(content).hexdigest()) == content
    assert unpack(content, "SHA1", hashlib.sha1(content).hexdigest().upper()) == content
    with pytest.raises(WeChatPayBillInvalid):
        unpack(packed, "SHA1", hashlib.sha1(b"other").hexdigest())
    with pytest.raises(WeChatPayBillInvalid):
        unpack(packed[:20], "SHA1", hashlib.sha1(content).hexdigest())
    with pytest.raises(WeChatPayBillInvalid):
        parse_trade_bill(b"not,a,bill\n")


# -- the simulator against wechatpayv3's signatures -----------------------------------------------


async def test_the_simulator_accepts_wechatpayv3_signed_requests_and_signs_its_answers(
    wechat_sim: str, wechatpay_keys: DevKeys
) -> None:
    merchant_key = oracle.load_private_key(key_pem(wechatpay_keys.merchant_key).decode())
    public_key = oracle.load_public_key(wechatpay_keys.path(PUB_KEY_PUBLIC).read_text())
    mchid, serial = wechatpay_keys.mchid, wechatpay_keys.merchant_serial
    body = json.dumps(
        {
            "appid": "wx1234567890abcdef",
            "mchid": mchid,
            "description": "连衣裙",
            "out_trade_no": "V3" + uuid.uuid4().hex[:20],
            "notify_url": "https://shop.example/notify",
            "amount": {"total": 1, "currency": "CNY"},
            "payer": {"openid": "o-v3"},
        }
    )
    path = "/v3/pay/transactions/jsapi"
    async with httpx.AsyncClient(base_url=wechat_sim) as http:

        async def send(auth: str) -> httpx.Response:
            return await http.post(
                path,
                content=body.encode(),
                headers={
                    "Authorization": auth,
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Wechatpay-Serial": wechatpay_keys.pub_key_id,
                },
            )

        answer = await send(
            oracle.build_authorization(path, "POST", mchid, serial, merchant_key, data=body)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["prepay_id"].startswith("wx")
        h = answer.headers
        assert h["Wechatpay-Serial"] == wechatpay_keys.pub_key_id
        assert oracle.rsa_verify(
            h["Wechatpay-Timestamp"],
            h["Wechatpay-Nonce"],
            answer.text,
            h["Wechatpay-Signature"],
            public_key,
        )
        # Signed over another body: 401 SIGN_ERROR with WeChat's detail.
        other = body.replace('"total": 1', '"total": 2')
        assert other != body
        refused = await send(
            oracle.build_authorization(path, "POST", mchid, serial, merchant_key, data=other)
        )
        assert refused.status_code == 401
        error = refused.json()
        assert error["code"] == "SIGN_ERROR"
        assert error["detail"]["detail"]["issue"] == "sign not match"
        assert error["detail"]["sign_information"]["url"] == path
        # Another merchant serial: refused as well.
        wrong = await send(
            oracle.build_authorization(path, "POST", mchid, "0ABC", merchant_key, data=body)
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "SIGN_ERROR"
        # No signature at all.
        assert (await http.post(path, content=body.encode())).status_code == 401


def test_settings_from_the_environment_make_run_sets(
    monkeypatch: pytest.MonkeyPatch, wechatpay_keys: DevKeys
) -> None:
    from devstack.stack import payment_wechatpay_env
    from payment.settings import PaymentSettings
    from payment.wechatpay.config import config_from_settings

    for name, value in payment_wechatpay_env("http://127.0.0.1:8900", wechatpay_keys).items():
        monkeypatch.setenv(name, value)
    settings = PaymentSettings()
    assert settings.wechatpay_base_url == "http://127.0.0.1:8900"
    config = config_from_settings(settings)
    assert config.mchid == wechatpay_keys.mchid and config.mode == "public_key"
    assert config.merchant_serial == wechatpay_keys.merchant_serial
    assert config.public_key_id == wechatpay_keys.pub_key_id
    assert config.apiv3_key == wechatpay_keys.apiv3_key.encode()
    assert wechatpay_keys.apiv3_key not in repr(settings)  # a secret, never in logs
    # A missing key is a clear startup error.
    from payment.wechatpay.errors import WeChatPayNotConfigured

    monkeypatch.delenv("PAYMENT_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE")
    with pytest.raises(WeChatPayNotConfigured):
        config_from_settings(PaymentSettings())
