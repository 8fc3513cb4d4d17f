"""Pure parts of member: sealing, masking, token signing and the JWKS, WeChat error mapping."""

import base64
import os

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from member.auth.tokens import TokenSigner, b64url, hash_refresh_token, new_refresh_token
from member.crypto import DataBox, mask_phone
from member.settings import DEV_DATA_KEY, DEV_JWT_SIGNING_KEY
from member.wechat.errors import error_for


def test_seal_round_trip_is_bound_to_context_and_key() -> None:
    box = DataBox(DEV_DATA_KEY)
    sealed = box.seal("13812345678", "phone:a")
    assert b"13812345678" not in sealed
    assert box.seal("13812345678", "phone:a") != sealed  # fresh nonce each time
    assert box.open(sealed, "phone:a") == "13812345678"
    with pytest.raises(ValueError):
        box.open(sealed, "phone:b")
    with pytest.raises(ValueError):
        DataBox(base64.b64encode(os.urandom(32)).decode()).open(sealed, "phone:a")
    with pytest.raises(ValueError):
        DataBox(base64.b64encode(b"short").decode())


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_masked_mobile_numbers_keep_three_and_four(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked == f"{phone[:3]}****{phone[-4:]}"
    assert len(masked) == 11 and masked[3:7] == "****"


def test_short_numbers_are_masked_too() -> None:
    assert mask_phone("12345") == "****"
    assert mask_phone("85212345") == "85****45"


def new_key() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return b64url(private), b64url(public)


def test_signed_tokens_verify_with_the_jwks_and_nothing_else() -> None:
    signer = TokenSigner(DEV_JWT_SIGNING_KEY, issuer="minimall-member")
    issued = signer.issue(subject="s-1", audience="minimall-admin", ttl_s=60, roles=["finance"])
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "EdDSA", "kid": signer.kid, "typ": "JWT"}
    (jwk,) = signer.jwks()["keys"]
    claims = jwt.decode(
        issued.token,
        jwt.PyJWK(jwk, algorithm="EdDSA"),
        algorithms=["EdDSA"],
        audience="minimall-admin",
        issuer="minimall-member",
    )
    assert claims["roles"] == ["finance"] and claims["jti"] == issued.jti
    other_private, _ = new_key()
    other = TokenSigner(other_private, issuer="minimall-member")
    assert other.kid != signer.kid
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            other.issue(subject="s", audience="a", ttl_s=60).token.replace(other.kid, signer.kid),
            jwt.PyJWK(jwk, algorithm="EdDSA"),
            algorithms=["EdDSA"],
            audience="a",
        )


def test_the_kid_is_stable_and_rotation_keeps_the_old_key_published() -> None:
    private, _ = new_key()
    old = TokenSigner(DEV_JWT_SIGNING_KEY, issuer="i")
    assert TokenSigner(DEV_JWT_SIGNING_KEY, issuer="i").kid == old.kid
    old_public = old.jwks()["keys"][0]["x"]
    rotated = TokenSigner(private, issuer="i", previous_public_keys=(old_public,))
    assert [k["kid"] for k in rotated.jwks()["keys"]] == [rotated.kid, old.kid]
    token = old.issue(subject="s", audience="a", ttl_s=60).token
    key = next(k for k in rotated.jwks()["keys"] if k["kid"] == old.kid)
    assert jwt.decode(token, jwt.PyJWK(key), algorithms=["EdDSA"], audience="a")["sub"] == "s"


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b and len(a) >= 40
    assert hash_refresh_token(a) != a and len(hash_refresh_token(a)) == 64


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        (40029, 401, "wechat_code_invalid"),
        (40163, 401, "wechat_code_invalid"),
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_user_blocked"),
        (-1, 503, "wechat_unavailable"),
        (43101, 409, "wechat_not_subscribed"),
        (47003, 422, "wechat_invalid_argument"),
        (40125, 502, "wechat_error"),
    ],
)
def test_wechat_error_codes_map_to_clear_errors(errcode: int, status: int, code: str) -> None:
    error = error_for(errcode, "msg, rid: x", "jscode2session")
    assert (error.status_code, error.code) == (status, code)
