"""Purchase tokens: a member fetches one from the sale shortly before buying; a purchase
without a valid one is refused. Stateless: ``<expiry s>.<HMAC-SHA256(key, sale|member|expiry)>``
(first 24 hex), so every marketing replica verifies it with the shared key and no store."""

import hashlib
import hmac
import time


def _mac(key: bytes, sale_id: str, member_id: str, expires: int) -> str:
    message = f"{sale_id}|{member_id}|{expires}".encode()
    return hmac.digest(key, message, hashlib.sha256).hex()[:24]


def issue(key: bytes, sale_id: str, member_id: str, ttl_s: int) -> tuple[str, int]:
    """A token and its expiry (unix seconds)."""
    expires = int(time.time()) + ttl_s
    return f"{expires}.{_mac(key, sale_id, member_id, expires)}", expires


def verify(key: bytes, sale_id: str, member_id: str, token: str) -> bool:
    expires_raw, _, mac = token.partition(".")
    if not expires_raw.isdigit() or len(expires_raw) > 12 or len(mac) != 24:
        return False
    expires = int(expires_raw)
    if expires < time.time():
        return False
    return hmac.compare_digest(mac, _mac(key, sale_id, member_id, expires))
