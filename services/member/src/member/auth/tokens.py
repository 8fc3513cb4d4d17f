"""Access tokens (EdDSA/Ed25519 JWTs with ``kid``), their JWKS, and opaque refresh tokens.

The contract is docs/auth.md. The ``kid`` is the RFC 7638 thumbprint of the public key, so
every replica derives the same one from the same key and a rotation changes it.
"""

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "EdDSA"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_raw: bytes) -> dict[str, str]:
    x = b64url(public_raw)
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": ALGORITHM}


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    jti: str


class TokenSigner:
    def __init__(
        self, private_key_b64url: str, *, issuer: str, previous_public_keys: tuple[str, ...] = ()
    ) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(b64url_decode(private_key_b64url))
        public_raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._jwk = public_jwk(public_raw)
        self.kid = self._jwk["kid"]
        self._issuer = issuer
        previous = [public_jwk(b64url_decode(k)) for k in previous_public_keys]
        self._jwks = {"keys": [self._jwk, *[k for k in previous if k["kid"] != self.kid]]}

    def issue(
        self, *, subject: str, audience: str, ttl_s: int, roles: list[str] | None = None
    ) -> IssuedToken:
        now = int(time.time())
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "jti": jti,
        }
        if roles is not None:
            claims["roles"] = roles
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(token=token, expires_in=ttl_s, jti=jti)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return self._jwks

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
