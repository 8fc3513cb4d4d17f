"""WeChat's side of the v3 cryptography: it verifies merchants, signs answers and
notifications, and encrypts resources with the merchant's APIv3 key."""

import base64
import secrets
import string

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
_ALPHABET = string.ascii_letters + string.digits


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """An ``AEAD_AES_256_GCM`` resource: a 12-character nonce, ciphertext + tag in base64."""
    iv = nonce(12)
    data = AESGCM(apiv3_key.encode()).encrypt(iv.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(data).decode(),
        "associated_data": associated_data,
        "nonce": iv,
    }


def signtest_signature() -> str:
    """What WeChat's probes carry instead of a signature."""
    return SIGNTEST_PREFIX + base64.b64encode(secrets.token_bytes(192)).decode()
