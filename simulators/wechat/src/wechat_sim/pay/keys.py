"""Development keys of WeChat Pay: the merchant's and WeChat's, written into one directory.

``ensure_dev_keys(directory)`` creates what is missing and loads the rest, so ``make run``
(devstack), the tests and the simulator itself all call it and agree on the same files:

- ``mchid.txt``, ``apiv3_key.txt`` (32 ASCII characters): both sides.
- ``apiclient_key.pem``: the merchant API private key (payment signs requests and paySign).
- ``apiclient_cert.pem``: the merchant API certificate; its serial names the key (simulator).
- ``platform_key.pem``, ``platform_cert.pem``: WeChat's platform certificate (simulator;
  payment downloads the certificate from ``/v3/certificates``).
- ``pub_key.pem`` (simulator), ``wxp_pub.pem`` and ``pub_key_id.txt`` (payment): the WeChat
  Pay public key and its ``PUB_KEY_ID_…``.

Development only: these keys are generated locally and must never serve real money.
"""

import datetime as dt
import os
import secrets
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEV_MCHID = "1900000001"

MERCHANT_KEY = "apiclient_key.pem"
MERCHANT_CERT = "apiclient_cert.pem"
APIV3_KEY = "apiv3_key.txt"
PLATFORM_KEY = "platform_key.pem"
PLATFORM_CERT = "platform_cert.pem"
PUB_KEY_PRIVATE = "pub_key.pem"
PUB_KEY_PUBLIC = "wxp_pub.pem"
PUB_KEY_ID = "pub_key_id.txt"
MCHID = "mchid.txt"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_serial_number() -> int:
    """A positive 160-bit serial whose hex is 40 characters, like WeChat's."""
    return secrets.randbits(156) | (1 << 156)


def make_certificate(
    key: rsa.RSAPrivateKey, common_name: str, *, serial: int | None = None, years: int = 5
) -> x509.Certificate:
    """A self-signed certificate (WeChat's are issued by Tenpay's CA; nobody checks here)."""
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "minimall WeChat simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or new_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .sign(key, hashes.SHA256())
    )


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def serial_hex(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:X}"


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass(frozen=True)
class DevKeys:
    """Everything both sides need, loaded from ``directory``."""

    directory: Path
    mchid: str
    apiv3_key: str
    merchant_key: rsa.RSAPrivateKey
    merchant_cert: x509.Certificate
    platform_key: rsa.RSAPrivateKey
    platform_cert: x509.Certificate
    pub_key: rsa.RSAPrivateKey
    pub_key_id: str

    @property
    def merchant_serial(self) -> str:
        return serial_hex(self.merchant_cert)

    @property
    def platform_serial(self) -> str:
        return serial_hex(self.platform_cert)

    def path(self, name: str) -> Path:
        return self.directory / name


def _generate(directory: Path, mchid: str) -> None:
    alphabet = string.ascii_letters + string.digits
    merchant = new_rsa_key()
    platform = new_rsa_key()
    pub = new_rsa_key()
    files = {
        MCHID: mchid.encode(),
        APIV3_KEY: "".join(secrets.choice(alphabet) for _ in range(32)).encode(),
        MERCHANT_KEY: key_pem(merchant),
        MERCHANT_CERT: cert_pem(make_certificate(merchant, f"{mchid} merchant API")),
        PLATFORM_KEY: key_pem(platform),
        PLATFORM_CERT: cert_pem(make_certificate(platform, "Tenpay.com platform")),
        PUB_KEY_PRIVATE: key_pem(pub),
        PUB_KEY_PUBLIC: public_pem(pub.public_key()),
        PUB_KEY_ID: f"PUB_KEY_ID_0119{mchid}{secrets.randbelow(10**18):018d}".encode(),
    }
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        if name in (MERCHANT_KEY, PLATFORM_KEY, PUB_KEY_PRIVATE, APIV3_KEY):
            path.chmod(0o600)


def load_dev_keys(directory: Path) -> DevKeys:
    def text(name: str) -> str:
        return (directory / name).read_text().strip()

    return DevKeys(
        directory=directory,
        mchid=text(MCHID),
        apiv3_key=text(APIV3_KEY),
        merchant_key=_load_key(directory / MERCHANT_KEY),
        merchant_cert=x509.load_pem_x509_certificate((directory / MERCHANT_CERT).read_bytes()),
        platform_key=_load_key(directory / PLATFORM_KEY),
        platform_cert=x509.load_pem_x509_certificate((directory / PLATFORM_CERT).read_bytes()),
        pub_key=_load_key(directory / PUB_KEY_PRIVATE),
        pub_key_id=text(PUB_KEY_ID),
    )


def ensure_dev_keys(directory: Path | str, mchid: str = DEV_MCHID) -> DevKeys:
    """Load the keys in ``directory``, generating them first when it holds none. A new set
    is written into a sibling directory and renamed into place, so two processes racing
    here end up with the same files."""
    directory = Path(directory).resolve()
    if not (directory / PUB_KEY_ID).exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".wechatpay-keys-", dir=directory.parent))
        _generate(staging, mchid)
        try:
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()
            os.rename(staging, directory)
        except OSError:
            for path in staging.iterdir():  # someone else won the race: use theirs
                path.unlink()
            staging.rmdir()
    return load_dev_keys(directory)
