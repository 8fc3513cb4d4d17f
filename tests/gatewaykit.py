"""Helpers for gateway tests: signing keys and tokens, supplier signatures, an echo upstream."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway.main import create_app
from gateway.settings import GatewaySettings
from gateway.signatures import canonical_request, sign, signing_key_for
from jwt.algorithms import OKPAlgorithm

ISSUER = "minimall-member"
MEMBER_AUD = "minimall-api"
STAFF_AUD = "minimall-admin"


@dataclass
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def mint(
        self,
        sub: str,
        *,
        aud: str = MEMBER_AUD,
        iss: str = ISSUER,
        roles: list[str] | None = None,
        ttl_s: int = 900,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "aud": aud,
            "iss": iss,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if roles is not None:
            claims["roles"] = roles
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})


def new_key() -> SigningKey:
    return SigningKey(kid=uuid.uuid4().hex[:12], private=Ed25519PrivateKey.generate())


def write_jwks(path: Path, *keys: SigningKey) -> None:
    path.write_text(json.dumps({"keys": [k.jwk() for k in keys]}))


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or uuid.uuid4().hex
    canonical = canonical_request(method, path, query, ts, nonce, body)
    return {
        "X-Api-Key": key_id,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sign(signing_key_for(secret), canonical),
    }


def api_key_record(
    key_id: str,
    secret: str,
    *,
    per_minute: int = 600,
    daily: int = 100_000,
    status: str = "active",
    supplier_id: str = "sup-1",
) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "supplier_id": supplier_id,
        "status": status,
        "per_minute": per_minute,
        "daily_quota": daily,
        "signing_key": signing_key_for(secret).hex(),
    }


@asynccontextmanager
async def gateway(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app.control):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", timeout=30
        ) as client:
            yield client
