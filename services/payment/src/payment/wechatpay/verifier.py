"""Verification of WeChat Pay answers and notifications (wechat-notes.md §2).

1. ``Wechatpay-Timestamp``, ``-Nonce``, ``-Signature`` and ``-Serial`` must all be there
   (names case-insensitive); a ``Wechatpay-Signature-Type`` other than
   ``WECHATPAY2-SHA256-RSA2048`` is refused.
2. ``WECHATPAY/SIGNTEST/`` signatures are WeChat's probes: always refused.
3. ``abs(now - timestamp)`` must be under 300 s.
4. The key is chosen by serial (``TrustStore``); an unknown serial refreshes once, then fails.
5. RSA PKCS#1 v1.5 / SHA-256 over ``timestamp\\nnonce\\nbody\\n`` (the raw bytes).
"""

import time
from collections.abc import Callable, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric import rsa
from shared.logging import get_logger

from payment.wechatpay.crypto import rsa_verify
from payment.wechatpay.errors import WeChatPaySignatureInvalid
from payment.wechatpay.signing import SCHEMA, SIGNTEST_PREFIX, response_message
from payment.wechatpay.trust import TrustStore

log = get_logger(__name__)

MAX_CLOCK_SKEW_S = 300

TIMESTAMP = "wechatpay-timestamp"
NONCE = "wechatpay-nonce"
SIGNATURE = "wechatpay-signature"
SERIAL = "wechatpay-serial"
SIGNATURE_TYPE = "wechatpay-signature-type"


def lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in items}


class Verifier:
    def __init__(
        self,
        trust: TrustStore,
        *,
        clock: Callable[[], float] = time.time,
        max_skew_s: int = MAX_CLOCK_SKEW_S,
    ) -> None:
        self.trust = trust
        self._clock = clock
        self._max_skew_s = max_skew_s

    async def verify(
        self,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        *,
        extra_keys: Mapping[str, rsa.RSAPublicKey] | None = None,
        refresh: bool = True,
    ) -> str:
        """Verify ``body`` (the raw bytes) against ``headers``; returns the serial that signed.
        Raises ``WeChatPaySignatureInvalid`` with ``reason`` when anything is off."""
        h = lower_headers(headers)
        timestamp, nonce = h.get(TIMESTAMP), h.get(NONCE)
        signature, serial = h.get(SIGNATURE), h.get(SERIAL)
        if not (timestamp and nonce and signature and serial):
            raise WeChatPaySignatureInvalid("missing_headers", "The answer is not signed.")
        if h.get(SIGNATURE_TYPE, SCHEMA) != SCHEMA:
            raise WeChatPaySignatureInvalid("unsupported_signature_type")
        if signature.startswith(SIGNTEST_PREFIX):
            log.info("wechatpay.signtest_probe_refused", serial=serial)
            raise WeChatPaySignatureInvalid("signtest", "A WECHATPAY/SIGNTEST/ probe.")
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            raise WeChatPaySignatureInvalid("bad_timestamp") from None
        if skew >= self._max_skew_s:
            raise WeChatPaySignatureInvalid("stale_timestamp", f"Timestamp {skew:.0f} s off.")
        key = (extra_keys or {}).get(serial) or self.trust.known_key(serial)
        if key is None and refresh:
            key = await self.trust.key_for(serial)
        if key is None:
            raise WeChatPaySignatureInvalid("unknown_serial", f"No key for serial {serial}.")
        if not rsa_verify(key, response_message(timestamp, nonce, body), signature):
            raise WeChatPaySignatureInvalid("bad_signature", "The signature does not match.")
        return serial
