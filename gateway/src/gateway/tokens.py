"""Verify member and staff access tokens locally with member's published keys.

Only EdDSA (Ed25519) is accepted, so ``none`` and HMAC/RSA confusion cannot pass. Keys come
from member's JWKS, cached; an unknown ``kid`` triggers at most one refresh per
``MIN_REFRESH_S``, so a rotation is picked up without a restart and a flood of bogus kids
cannot hammer member. Verified tokens are cached until they expire.
"""

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from jwt import PyJWK
from shared.logging import get_logger

log = get_logger(__name__)

ALGORITHMS = ["EdDSA"]
MIN_REFRESH_S = 5.0
CACHE_SIZE = 50_000


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    audience: str
    roles: tuple[str, ...]
    expires_at: float


class KeySet:
    def __init__(self, session: aiohttp.ClientSession, url: str, refresh_s: float) -> None:
        self._session = session
        self._url = url
        self._refresh_s = refresh_s
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PyJWK:
        now = time.monotonic()
        if now - self._fetched_at > self._refresh_s or (
            kid not in self._keys and now - self._fetched_at > MIN_REFRESH_S
        ):
            await self.refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown signing key")
        return key

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < MIN_REFRESH_S and self._keys:
                return  # another task just did
            try:
                async with self._session.get(self._url) as response:
                    response.raise_for_status()
                    document = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("gateway.jwks_unavailable", url=self._url, error=repr(exc))
                self._fetched_at = time.monotonic()  # keep old keys, retry later
                return
            keys = {}
            for jwk in document.get("keys", []):
                if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "kid" not in jwk:
                    continue
                keys[jwk["kid"]] = PyJWK(jwk, algorithm="EdDSA")
            self._keys = keys
            self._fetched_at = time.monotonic()
            log.info("gateway.jwks_refreshed", kids=sorted(keys))


class TokenVerifier:
    def __init__(self, keys: KeySet, issuer: str, leeway_s: int) -> None:
        self._keys = keys
        self._issuer = issuer
        self._leeway = leeway_s
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], Claims] = OrderedDict()

    async def verify(self, token: str, audiences: tuple[str, ...]) -> Claims:
        """Verify ``token`` for any of ``audiences``; ``Claims.audience`` says which it was for."""
        cached = self._cache.get((token, audiences))
        if cached is not None:
            if cached.expires_at + self._leeway > time.time():
                return cached
            del self._cache[(token, audiences)]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token has no kid")
        key = await self._keys.get(kid)
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=list(audiences),
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        roles = payload.get("roles", [])
        aud = payload["aud"]
        claims = Claims(
            subject=str(payload["sub"]),
            audience=next(a for a in audiences if a == aud or (isinstance(aud, list) and a in aud)),
            roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
            expires_at=float(payload["exp"]),
        )
        self._cache[(token, audiences)] = claims
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return claims
