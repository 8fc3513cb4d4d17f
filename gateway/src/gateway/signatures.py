"""Supplier request signatures (``/open/v1``), documented in ``docs/open-api.md``.

A supplier holds a key id and a secret. It signs with ``signing_key = SHA-256(secret)``:

    canonical = METHOD \\n PATH \\n CANONICAL_QUERY \\n TIMESTAMP \\n NONCE \\n hex(SHA-256(body))
    X-Signature = hex(HMAC-SHA256(signing_key, canonical))

Member keeps only ``signing_key`` (encrypted at rest), never the secret. The gateway fetches
it by key id from member's internal API and caches it briefly, so a revocation takes effect
within ``api_key_cache_s``.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

import aiohttp
from redis.asyncio import Redis

API_KEY_HEADER = "x-api-key"
TIMESTAMP_HEADER = "x-timestamp"
NONCE_HEADER = "x-nonce"
SIGNATURE_HEADER = "x-signature"


class SignatureRejected(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    supplier_id: str
    signing_key: bytes
    daily_quota: int
    per_minute: int


def canonical_query(query_string: str) -> str:
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def canonical_request(
    method: str, path: str, query_string: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    return "\n".join(
        [
            method.upper(),
            path,
            canonical_query(query_string),
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    ).encode()


def signing_key_for(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def sign(signing_key: bytes, canonical: bytes) -> str:
    return hmac.new(signing_key, canonical, hashlib.sha256).hexdigest()


class ApiKeyStore:
    """Reads keys from member's internal API; caches hits and misses for ``ttl_s``."""

    def __init__(self, session: aiohttp.ClientSession, member_url: str, ttl_s: float) -> None:
        self._session = session
        self._url = member_url.rstrip("/") + "/internal/v1/api-keys/"
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def get(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._session.get(self._url + quote(key_id, safe="")) as response:
            if response.status == 404:
                key = None
            else:
                response.raise_for_status()
                body = await response.json()
                key = (
                    ApiKey(
                        key_id=body["key_id"],
                        supplier_id=body["supplier_id"],
                        signing_key=bytes.fromhex(body["signing_key"]),
                        daily_quota=int(body["daily_quota"]),
                        per_minute=int(body["per_minute"]),
                    )
                    if body.get("status") == "active"
                    else None
                )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (now + self._ttl, key)
        return key


class SignatureVerifier:
    def __init__(self, keys: ApiKeyStore, redis: Redis, window_s: int) -> None:
        self._keys = keys
        self._redis = redis
        self._window = window_s

    async def verify(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> ApiKey:
        key_id = headers.get(API_KEY_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not key_id or not signature:
            raise SignatureRejected("X-Api-Key and X-Signature are required.")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self._window:
            raise SignatureRejected("X-Timestamp is missing or outside the allowed window.")
        if not 16 <= len(nonce) <= 64 or not nonce.isascii() or not nonce.isalnum():
            raise SignatureRejected("X-Nonce must be 16 to 64 letters or digits.")
        key = await self._keys.get(key_id)
        if key is None:
            raise SignatureRejected("Unknown or revoked API key.")
        expected = sign(
            key.signing_key, canonical_request(method, path, query, timestamp, nonce, body)
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise SignatureRejected("The signature does not match.")
        # Only a correctly signed request may burn its nonce; a replay finds it taken.
        fresh = await self._redis.set(f"nonce:{key_id}:{nonce}", "1", nx=True, ex=self._window * 2)
        if not fresh:
            raise SignatureRejected("This nonce was already used.")
        return key
