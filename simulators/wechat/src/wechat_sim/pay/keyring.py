"""WeChat's keys: platform certificates (rotatable, every valid one kept) and the WeChat Pay
public key; it signs answers and notifications with the key the merchant's request named."""

import secrets
import time
from dataclasses import dataclass, field
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wechat_sim.pay.crypto import SIGNATURE_TYPE, nonce, sign, signtest_signature
from wechat_sim.pay.keys import DevKeys, make_certificate, new_rsa_key, serial_hex


@dataclass(frozen=True)
class Signer:
    serial: str
    key: rsa.RSAPrivateKey


@dataclass
class Platform:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def serial(self) -> str:
        return serial_hex(self.cert)


@dataclass
class Keyring:
    dev: DevKeys
    platforms: list[Platform] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.platforms:
            self.platforms.append(Platform(self.dev.platform_key, self.dev.platform_cert))

    @property
    def merchant_key(self) -> rsa.RSAPublicKey:
        key = self.dev.merchant_cert.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        return key

    @cached_property
    def _stranger(self) -> rsa.RSAPrivateKey:
        """A key nobody was told about (unknown serials, wrong signatures)."""
        return new_rsa_key()

    def rotate(self) -> Platform:
        """A new platform certificate; the old ones stay valid (and listed) until they expire."""
        key = new_rsa_key()
        platform = Platform(key, make_certificate(key, "Tenpay.com platform"))
        self.platforms.append(platform)
        return platform

    def public_key_signer(self) -> Signer:
        return Signer(self.dev.pub_key_id, self.dev.pub_key)

    def signer_for(self, requested_serial: str | None) -> Signer:
        """The public key when the request named its id; the named platform certificate
        when it is one of ours; else the newest platform certificate."""
        if requested_serial == self.dev.pub_key_id:
            return self.public_key_signer()
        for platform in self.platforms:
            if platform.serial == (requested_serial or "").upper():
                return Signer(platform.serial, platform.key)
        newest = self.platforms[-1]
        return Signer(newest.serial, newest.key)

    def sign(
        self, body: bytes, signer: Signer, spoiler: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The six ``Wechatpay-*``/``Request-ID`` headers over ``body`` (maybe spoiled)."""
        headers = {"Request-ID": secrets.token_hex(16)}
        if spoiler == "unsigned":
            return body, headers
        timestamp = int(time.time()) - (600 if spoiler == "stale_timestamp" else 0)
        nonce_str = nonce()
        key, serial = signer.key, signer.serial
        if spoiler == "unknown_serial":
            key, serial = self._stranger, f"{secrets.randbits(156) | (1 << 156):X}"
        elif spoiler == "bad_signature":
            key = self._stranger
        message = f"{timestamp}\n{nonce_str}\n".encode() + body + b"\n"
        signature = signtest_signature() if spoiler == "signtest" else sign(key, message)
        if spoiler == "tampered_body" and body:
            body += b" "  # still valid JSON: only the exact bytes give it away
        elif spoiler == "tampered_body":
            nonce_str = nonce()  # nothing to alter in an empty body (204): alter the nonce
        headers |= {
            "Wechatpay-Nonce": nonce_str,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": str(timestamp),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }
        return body, headers
