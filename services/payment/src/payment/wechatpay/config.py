"""What the client needs, loaded once from ``PaymentSettings`` (inline PEM or file paths)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import Certificate

from payment.settings import PaymentSettings
from payment.wechatpay.crypto import load_certificates, load_private_key, load_public_key
from payment.wechatpay.errors import WeChatPayNotConfigured

Mode = Literal["public_key", "certificate"]


@dataclass(frozen=True)
class WeChatPayConfig:
    mchid: str
    appid: str
    merchant_key: rsa.RSAPrivateKey
    merchant_serial: str
    apiv3_key: bytes
    mode: Mode = "public_key"
    public_key: rsa.RSAPublicKey | None = None
    public_key_id: str = ""
    platform_certificates: tuple[Certificate, ...] = ()
    certificate_download: bool = True
    certificate_refresh_min_interval_s: float = 60.0
    notify_url: str = ""
    refund_notify_url: str = ""

    def __post_init__(self) -> None:
        if len(self.apiv3_key) != 32:
            raise WeChatPayNotConfigured("the APIv3 key must be 32 ASCII characters")
        if self.mode == "public_key" and (self.public_key is None or not self.public_key_id):
            raise WeChatPayNotConfigured("public-key mode needs the public key and its id")
        if not self.mchid or not self.merchant_serial:
            raise WeChatPayNotConfigured("mchid and the merchant certificate serial are needed")


def _pem(inline: str, path: str, what: str) -> bytes | None:
    if inline.strip():
        return inline.strip().encode()
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise WeChatPayNotConfigured(f"cannot read {what} from {path}: {exc}") from exc
    return None


def config_from_settings(settings: PaymentSettings) -> WeChatPayConfig:
    key_pem = _pem(
        settings.wechatpay_merchant_private_key.get_secret_value(),
        settings.wechatpay_merchant_private_key_file,
        "the merchant private key",
    )
    if key_pem is None:
        raise WeChatPayNotConfigured("PAYMENT_WECHATPAY_MERCHANT_PRIVATE_KEY(_FILE) is not set")
    public_pem = _pem(
        settings.wechatpay_public_key, settings.wechatpay_public_key_file, "the public key"
    )
    certs_pem = _pem("", settings.wechatpay_platform_certificates_file, "platform certificates")
    try:
        return WeChatPayConfig(
            mchid=settings.wechatpay_mchid,
            appid=settings.wechatpay_appid,
            merchant_key=load_private_key(key_pem),
            merchant_serial=settings.wechatpay_merchant_serial.upper(),
            apiv3_key=settings.wechatpay_apiv3_key.get_secret_value().encode(),
            mode=settings.wechatpay_mode,
            public_key=load_public_key(public_pem) if public_pem else None,
            public_key_id=settings.wechatpay_public_key_id,
            platform_certificates=tuple(load_certificates(certs_pem)) if certs_pem else (),
            certificate_download=settings.wechatpay_certificate_download,
            certificate_refresh_min_interval_s=settings.wechatpay_certificate_refresh_min_interval_s,
            notify_url=settings.wechatpay_notify_url,
            refund_notify_url=settings.wechatpay_refund_notify_url,
        )
    except ValueError as exc:
        raise WeChatPayNotConfigured(str(exc)) from exc
