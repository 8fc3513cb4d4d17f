"""The primitives of WeChat Pay v3: RSA PKCS#1 v1.5 / SHA-256 signatures and AES-256-GCM.

Keys are ``cryptography`` objects; signatures travel as base64 text.
"""

import base64
import binascii
import secrets
import string

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509 import Certificate, load_pem_x509_certificate

_NONCE_ALPHABET = string.ascii_letters + string.digits


def new_nonce(length: int = 32) -> str:
    """A nonce of ``[0-9A-Za-z]`` (32 characters, as wechatpay-go)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class DecryptionFailed(Exception):
    """AES-GCM refused the ciphertext: almost always the wrong APIv3 key, or tampering."""


def aes_gcm_decrypt(
    apiv3_key: bytes, nonce: str, ciphertext_b64: str, associated_data: str
) -> bytes:
    """A ``resource`` or ``encrypt_certificate`` → plaintext (the ciphertext ends with the tag)."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(apiv3_key).decrypt(
            nonce.encode(), data, associated_data.encode() if associated_data else None
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptionFailed(type(exc).__name__) from exc


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant API key must be an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the WeChat Pay public key must be an RSA public key")
    return key


def load_certificates(pem: bytes) -> list[Certificate]:
    """Every certificate of a PEM bundle."""
    marker = b"-----BEGIN CERTIFICATE-----"
    parts = [marker + chunk for chunk in pem.split(marker)[1:]]
    return [load_pem_x509_certificate(part) for part in parts]


def certificate_serial(certificate: Certificate) -> str:
    """The serial as WeChat writes it: upper-case hex."""
    return f"{certificate.serial_number:X}"


def certificate_public_key(certificate: Certificate) -> rsa.RSAPublicKey:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("a WeChat Pay platform certificate must carry an RSA key")
    return key
