"""The signed messages of WeChat Pay v3 (wechat-notes.md §1–§3), byte for byte."""

from cryptography.hazmat.primitives.asymmetric import rsa

from payment.wechatpay.crypto import rsa_sign

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"


def request_message(
    method: str, canonical_url: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """``METHOD\\nurl\\ntimestamp\\nnonce\\nbody\\n``; the URL is path plus ``?query`` as sent."""
    head = f"{method.upper()}\n{canonical_url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What answers and notifications are signed over: ``timestamp\\nnonce\\nbody\\n``."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization(
    *,
    mchid: str,
    serial_no: str,
    key: rsa.RSAPrivateKey,
    method: str,
    canonical_url: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    """The ``Authorization`` header of a request to WeChat Pay."""
    signature = rsa_sign(key, request_message(method, canonical_url, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",timestamp="{timestamp}",'
        f'serial_no="{serial_no}",signature="{signature}"'
    )


def pay_sign(key: rsa.RSAPrivateKey, appid: str, timestamp: str, nonce: str, package: str) -> str:
    """``paySign`` of ``wx.requestPayment``: RSA over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``
    (the appid of the prepay)."""
    return rsa_sign(key, f"{appid}\n{timestamp}\n{nonce}\n{package}\n".encode())
