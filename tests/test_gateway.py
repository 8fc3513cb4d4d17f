"""The gateway end to end: a real echo upstream process, real Redis, the gateway in process."""

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from devstack.infra import Infra, free_port
from gateway.settings import GatewaySettings, RateLimit, RouteRule

from tests.gatewaykit import (
    STAFF_AUD,
    SigningKey,
    api_key_record,
    gateway,
    new_key,
    signed_headers,
    write_jwks,
)
from tests.support import LOG_DIR, Processes, eventually

SERVICES = ("catalog", "order", "member", "marketing", "payment")


@dataclass
class Echo:
    url: str
    port: int
    log: Path
    jwks: Path
    api_keys: Path
    key: SigningKey


@pytest.fixture(scope="module")
def echo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Echo]:
    tmp = tmp_path_factory.mktemp("echo")
    key = new_key()
    echo = Echo("", free_port(), LOG_DIR / "echo.log", tmp / "jwks.json", tmp / "keys.json", key)
    echo.url = f"http://127.0.0.1:{echo.port}"
    write_jwks(echo.jwks, key)
    echo.api_keys.write_text("{}")
    procs = Processes(
        env={"ECHO_JWKS_FILE": str(echo.jwks), "ECHO_API_KEYS_FILE": str(echo.api_keys)}
    )
    procs.start(
        "echo", "-m", "uvicorn", "tests.apps.echo:create_app", "--factory", "--port", str(echo.port)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{echo.url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield echo
    finally:
        procs.stop_all()


def settings_for(echo: Echo, infra: Infra, **overrides: Any) -> GatewaySettings:
    base: dict[str, Any] = {
        "upstreams": {s: echo.url for s in SERVICES},
        "redis_url": infra.redis_db_url(9),
        "rate_limits": {
            **GatewaySettings().rate_limits,
            "default": RateLimit(limit=100_000, period_s=60),
            "ip": RateLimit(limit=100_000, period_s=60),
        },
    }
    return GatewaySettings(**{**base, **overrides})


@pytest.fixture
async def gw(echo_upstream: Echo, infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(settings_for(echo_upstream, infra)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["x-request-id"]


# --- routing and proxying -------------------------------------------------------------------


async def test_routes_areas_and_passes_identity_request_id_and_body(
    gw: httpx.AsyncClient, echo_upstream: Echo
) -> None:
    member = str(uuid.uuid4())
    token = echo_upstream.key.mint(member)
    body = json.dumps({"items": [{"sku_id": "s1", "quantity": 2}]}).encode()
    response = await gw.post(
        "/api/v1/orders/preview?x=1&y=2",
        content=body,
        headers={**bearer(token), "X-Request-ID": "trace-gw-1", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == "/api/v1/orders/preview" and seen["query"] == "x=1&y=2"
    assert seen["headers"]["x-auth-member-id"] == member
    assert seen["headers"]["x-request-id"] == "trace-gw-1"
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert response.headers["x-request-id"] == "trace-gw-1"

    async def logged() -> bool:
        return (
            "trace-gw-1" in echo_upstream.log.read_text() if echo_upstream.log.exists() else False
        )

    await eventually(logged, timeout=10)


async def test_unknown_area_is_a_404(gw: httpx.AsyncClient) -> None:
    assert_error(await gw.get("/api/v1/warehouse/things"), 404, "not_found")


async def test_hop_by_hop_and_spoofed_identity_headers_never_reach_the_upstream(
    gw: httpx.AsyncClient, echo_upstream: Echo
) -> None:
    member = str(uuid.uuid4())
    response = await gw.get(
        "/api/v1/members/me",
        headers={
            **bearer(echo_upstream.key.mint(member)),
            "X-Auth-Member-Id": "someone-else",
            "X-Auth-Staff-Id": "boss",
            "X-Auth-Staff-Roles": "admin",
            "Connection": "keep-alive, X-Private-Hop",
            "X-Private-Hop": "1",
            "Keep-Alive": "timeout=5",
        },
    )
    seen = response.json()["headers"]
    assert seen["x-auth-member-id"] == member
    assert "x-auth-staff-id" not in seen and "x-auth-staff-roles" not in seen
    assert "x-private-hop" not in seen and "keep-alive" not in seen
    assert seen["x-forwarded-for"] == "203.0.113.7"
    # On a public route without a token, a claimed identity is dropped too.
    public = (await gw.get("/api/v1/catalog/products", headers={"X-Auth-Member-Id": "x"})).json()
    assert "x-auth-member-id" not in public["headers"]


async def test_large_bodies_stream_both_ways(echo_upstream: Echo, infra: Infra) -> None:
    settings = settings_for(echo_upstream, infra, max_body_bytes=20_000_000)
    async with gateway(settings) as gw:
        token = echo_upstream.key.mint(str(uuid.uuid4()))
        payload = b"z" * 3_000_000

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(payload), 100_000):
                yield payload[i : i + 100_000]

        up = await gw.post("/api/v1/orders/upload", content=chunks(), headers=bearer(token))
        assert up.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()
        down = await gw.get("/api/v1/catalog/big", params={"size": 4 * 65536 * 10})
        assert down.status_code == 200 and len(down.content) == 4 * 65536 * 10


async def test_body_size_limit_is_a_413(echo_upstream: Echo, infra: Infra) -> None:
    async with gateway(settings_for(echo_upstream, infra, max_body_bytes=1000)) as gw:
        token = echo_upstream.key.mint(str(uuid.uuid4()))
        assert_error(
            await gw.post("/api/v1/orders", content=b"x" * 2000, headers=bearer(token)),
            413,
            "payload_too_large",
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 500

        assert_error(
            await gw.post("/api/v1/orders/x", content=chunks(), headers=bearer(token)),
            413,
            "payload_too_large",
        )


async def test_route_timeout_is_a_504(echo_upstream: Echo, infra: Infra) -> None:
    rules = [RouteRule(path="/api/v1/catalog/**", public=True, timeout_s=0.3)]
    async with gateway(settings_for(echo_upstream, infra, rules=rules)) as gw:
        assert (await gw.get("/api/v1/catalog/fast")).status_code == 200
        assert_error(await gw.get("/api/v1/catalog/slow?sleep=2"), 504, "upstream_timeout")


async def test_upstream_down_is_a_fast_503_and_the_breaker_opens_then_recovers(
    echo_upstream: Echo, infra: Infra, tmp_path: Path
) -> None:
    dead = free_port()
    settings = settings_for(
        echo_upstream,
        infra,
        upstreams={
            **{s: echo_upstream.url for s in SERVICES},
            "catalog": f"http://127.0.0.1:{dead}",
        },
        breaker_failures=3,
        breaker_open_s=1.0,
        upstream_connect_retries=1,
    )
    async with gateway(settings) as gw:
        started = time.monotonic()
        for _ in range(3):
            assert_error(await gw.get("/api/v1/catalog/products"), 503, "upstream_unavailable")
        assert time.monotonic() - started < 5  # connection refused is immediate, not a timeout
        opened = await gw.get("/api/v1/catalog/products")
        assert_error(opened, 503, "upstream_unavailable")
        assert "circuit open" in opened.json()["error"]["message"]
        assert int(opened.headers["retry-after"]) >= 1
        # Other upstreams are unaffected.
        assert (await gw.get("/api/v1/marketing/coupons")).status_code == 200
        # The upstream comes back; after the open period one probe closes the breaker.
        procs = Processes(env={})
        procs.start(
            "echo-2",
            "-m",
            "uvicorn",
            "tests.apps.echo:create_app",
            "--factory",
            "--port",
            str(dead),
        )
        try:

            async def recovered() -> bool:
                return (await gw.get("/api/v1/catalog/products")).status_code == 200

            await eventually(recovered, timeout=30, interval=0.3)
            assert (await gw.get("/api/v1/catalog/products")).status_code == 200
        finally:
            procs.stop_all()


async def test_cors_preflight_and_headers(echo_upstream: Echo, infra: Infra) -> None:
    settings = settings_for(echo_upstream, infra, cors_origins=["https://admin.example.com"])
    async with gateway(settings) as gw:
        preflight = await gw.options(
            "/admin/v1/catalog/products",
            headers={
                "Origin": "https://admin.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        denied = await gw.options(
            "/admin/v1/catalog/products",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert_error(denied, 403, "cors_forbidden")
        simple = await gw.get(
            "/api/v1/catalog/products", headers={"Origin": "https://admin.example.com"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://admin.example.com"


# --- member and staff tokens ----------------------------------------------------------------


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        return jwt.utils.base64url_encode(json.dumps(data).encode()).decode()

    return f"{b64(header)}.{b64(claims)}."


async def test_bad_tokens_are_401(gw: httpx.AsyncClient, echo_upstream: Echo) -> None:
    key = echo_upstream.key
    sub = str(uuid.uuid4())
    good = key.mint(sub)
    now = int(time.time())
    claims = {
        "sub": sub,
        "aud": "minimall-api",
        "iss": "minimall-member",
        "iat": now,
        "exp": now + 60,
    }
    public_x = key.jwk()["x"]
    tampered_payload = jwt.utils.base64url_encode(
        json.dumps({**claims, "sub": "admin"}).encode()
    ).decode()
    head, _, sig = good.split(".")
    cases = {
        "none": _unsigned(claims, {"alg": "none", "kid": key.kid}),
        "hs_confusion": jwt.encode(claims, public_x, algorithm="HS256", headers={"kid": key.kid}),
        "expired": key.mint(sub, ttl_s=-120),
        "wrong_aud": key.mint(sub, aud="someone-else"),
        "wrong_iss": key.mint(sub, iss="evil"),
        "tampered": f"{head}.{tampered_payload}.{sig}",
        "unknown_kid": new_key().mint(sub),
        "garbage": "not-a-jwt",
    }
    for name, token in cases.items():
        response = await gw.get("/api/v1/members/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "unauthenticated", name
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert_error(await gw.get("/api/v1/members/me"), 401, "unauthenticated")
    assert (await gw.get("/api/v1/members/me", headers=bearer(good))).status_code == 200


async def test_public_routes_need_no_token(gw: httpx.AsyncClient) -> None:
    assert (await gw.post("/api/v1/auth/wechat/login", json={"code": "x"})).status_code == 200
    assert (await gw.get("/api/v1/catalog/products?q=连衣裙")).status_code == 200
    assert (await gw.post("/api/v1/payments/wechat/notify", content=b"{}")).status_code == 200
    assert (await gw.post("/admin/v1/auth/login", json={})).status_code == 200
    assert (await gw.post("/api/v1/catalog/products", json={})).status_code == 401  # GET only


async def test_key_rotation_is_picked_up_without_restart(
    gw: httpx.AsyncClient, echo_upstream: Echo
) -> None:
    old, rotated = echo_upstream.key, new_key()
    write_jwks(echo_upstream.jwks, old, rotated)
    try:
        fresh = rotated.mint(str(uuid.uuid4()))

        async def accepted() -> bool:
            return (await gw.get("/api/v1/members/me", headers=bearer(fresh))).status_code == 200

        await eventually(accepted, timeout=15, interval=0.5)  # an unknown kid refreshes the JWKS
    finally:
        write_jwks(echo_upstream.jwks, old)


async def test_staff_roles_decide_admin_routes(gw: httpx.AsyncClient, echo_upstream: Echo) -> None:
    key = echo_upstream.key
    operator = key.mint("staff-op", aud=STAFF_AUD, roles=["operator"])
    finance = key.mint("staff-fin", aud=STAFF_AUD, roles=["finance"])
    admin = key.mint("staff-admin", aud=STAFF_AUD, roles=["admin"])
    member = key.mint(str(uuid.uuid4()))

    allowed = await gw.post("/admin/v1/catalog/products", json={}, headers=bearer(operator))
    assert allowed.status_code == 200
    assert allowed.json()["headers"]["x-auth-staff-id"] == "staff-op"
    assert allowed.json()["headers"]["x-auth-staff-roles"] == "operator"
    assert_error(
        await gw.get("/admin/v1/payments/reconciliations", headers=bearer(operator)),
        403,
        "forbidden",
    )
    assert (
        await gw.get("/admin/v1/payments/reconciliations", headers=bearer(finance))
    ).status_code == 200
    assert_error(await gw.get("/admin/v1/members/staff", headers=bearer(finance)), 403, "forbidden")
    assert (await gw.get("/admin/v1/members/staff", headers=bearer(admin))).status_code == 200
    assert_error(
        await gw.get("/admin/v1/catalog/products", headers=bearer(member)), 403, "forbidden"
    )
    assert_error(await gw.get("/admin/v1/catalog/products"), 401, "unauthenticated")
    # A staff token is not a member token.
    assert_error(await gw.get("/api/v1/members/me", headers=bearer(admin)), 401, "unauthenticated")


# --- rate limits ----------------------------------------------------------------------------


async def test_429_exactly_past_the_limit_under_concurrency_with_honest_retry_after(
    echo_upstream: Echo, infra: Infra
) -> None:
    limits = {
        **settings_for(echo_upstream, infra).rate_limits,
        "flash_sale": RateLimit(limit=10, period_s=10),
    }
    async with gateway(settings_for(echo_upstream, infra, rate_limits=limits)) as gw:
        token = bearer(echo_upstream.key.mint(str(uuid.uuid4())))
        path = "/api/v1/marketing/flash-sales/sale-1/purchase"
        responses = await asyncio.gather(
            *(gw.post(path, json={}, headers=token) for _ in range(25))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) == 10 and statuses.count(429) == 15
        denied = next(r for r in responses if r.status_code == 429)
        assert denied.json()["error"]["code"] == "rate_limited"
        retry_after = int(denied.headers["retry-after"])
        assert retry_after == 1  # one request every 10 s / 10
        assert denied.headers["ratelimit-limit"] == "10"
        assert denied.headers["ratelimit-remaining"] == "0"
        ok = next(r for r in responses if r.status_code == 200)
        assert int(ok.headers["ratelimit-remaining"]) < 10
        assert (await gw.post(path, json={}, headers=token)).status_code == 429
        await asyncio.sleep(retry_after + 0.1)
        assert (await gw.post(path, json={}, headers=token)).status_code == 200
        # Another member has a budget of their own.
        other = bearer(echo_upstream.key.mint(str(uuid.uuid4())))
        assert (await gw.post(path, json={}, headers=other)).status_code == 200


async def test_flash_sale_class_is_limited_per_member_and_per_ip(
    echo_upstream: Echo, infra: Infra
) -> None:
    limits = {
        **settings_for(echo_upstream, infra).rate_limits,
        "flash_sale": RateLimit(limit=2, period_s=60),
        "flash_sale_ip": RateLimit(limit=5, period_s=60),
    }
    settings = settings_for(echo_upstream, infra, rate_limits=limits, trusted_proxies=1)
    ip = {"X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}
    async with gateway(settings) as gw:
        path = "/api/v1/marketing/flash-sales/sale-1/purchase"
        one = {**ip, **bearer(echo_upstream.key.mint(str(uuid.uuid4())))}
        # Per member: the third call of one member is refused ...
        codes = [(await gw.post(path, json={}, headers=one)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # ... and per IP: members sharing the address share five calls (two used above,
        # the refused one cost nothing).
        others = [{**ip, **bearer(echo_upstream.key.mint(str(uuid.uuid4())))} for _ in range(5)]
        codes = [(await gw.post(path, json={}, headers=h)).status_code for h in others]
        assert codes == [200, 200, 200, 429, 429]
        # Other classes are not limited per IP this way.
        assert (await gw.get("/api/v1/orders", headers=others[-1])).status_code == 200


async def test_per_ip_limit_covers_anonymous_calls(echo_upstream: Echo, infra: Infra) -> None:
    limits = {
        **settings_for(echo_upstream, infra).rate_limits,
        "ip": RateLimit(limit=3, period_s=60),
    }
    async with gateway(settings_for(echo_upstream, infra, rate_limits=limits)) as gw:
        codes = [(await gw.get("/api/v1/catalog/products")).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(("mode", "status"), [("open", 200), ("closed", 503)])
async def test_redis_unreachable_fails_open_or_closed_as_configured(
    echo_upstream: Echo, infra: Infra, mode: str, status: int
) -> None:
    settings = settings_for(
        echo_upstream,
        infra,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_failure_mode=mode,
    )
    async with gateway(settings) as gw:
        response = await gw.get("/api/v1/catalog/products")
        assert response.status_code == status
        if mode == "closed":
            assert_error(response, 503, "rate_limiter_unavailable")


# --- supplier signatures --------------------------------------------------------------------


@pytest.fixture
def supplier_key(echo_upstream: Echo) -> Iterator[tuple[str, str]]:
    key_id, secret = f"ak_{uuid.uuid4().hex[:10]}", f"sk_{uuid.uuid4().hex}"
    keys = json.loads(echo_upstream.api_keys.read_text())
    keys[key_id] = api_key_record(key_id, secret, per_minute=5, supplier_id=f"sup-{key_id}")
    echo_upstream.api_keys.write_text(json.dumps(keys))
    yield key_id, secret


async def test_signed_supplier_requests(
    gw: httpx.AsyncClient, supplier_key: tuple[str, str]
) -> None:
    key_id, secret = supplier_key
    path, query, body = "/open/v1/catalog/stock", "warehouse=sh&b=2", b'{"items":[]}'
    headers = signed_headers(key_id, secret, "PUT", path, query, body)
    ok = await gw.put(f"{path}?{query}", content=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["headers"]["x-auth-supplier-id"] == f"sup-{key_id}"

    replay = await gw.put(f"{path}?{query}", content=body, headers=headers)
    assert_error(replay, 401, "invalid_signature")
    assert "nonce" in replay.json()["error"]["message"]

    tampered = signed_headers(key_id, secret, "PUT", path, query, body)
    assert_error(
        await gw.put(f"{path}?{query}", content=b'{"items":[1]}', headers=tampered),
        401,
        "invalid_signature",
    )
    skewed = signed_headers(
        key_id, secret, "PUT", path, query, body, timestamp=int(time.time()) - 400
    )
    assert_error(
        await gw.put(f"{path}?{query}", content=body, headers=skewed), 401, "invalid_signature"
    )
    wrong_secret = signed_headers(key_id, "sk_wrong", "PUT", path, query, body)
    assert_error(
        await gw.put(f"{path}?{query}", content=body, headers=wrong_secret),
        401,
        "invalid_signature",
    )
    unknown = signed_headers("ak_nobody", secret, "PUT", path, query, body)
    assert_error(
        await gw.put(f"{path}?{query}", content=body, headers=unknown), 401, "invalid_signature"
    )
    assert_error(await gw.get("/open/v1/catalog/stock"), 401, "invalid_signature")


async def test_supplier_quota_is_the_suppliers_across_its_keys(
    gw: httpx.AsyncClient, supplier_key: tuple[str, str], echo_upstream: Echo
) -> None:
    key_id, secret = supplier_key
    second_id, second_secret = f"{key_id}b", f"{secret}b"
    keys = json.loads(echo_upstream.api_keys.read_text())
    keys[second_id] = api_key_record(
        second_id, second_secret, per_minute=5, supplier_id=f"sup-{key_id}"
    )
    echo_upstream.api_keys.write_text(json.dumps(keys))
    codes = []
    for i in range(7):
        kid, sec = (key_id, secret) if i % 2 else (second_id, second_secret)
        headers = signed_headers(kid, sec, "GET", "/open/v1/orders/paid")
        codes.append((await gw.get("/open/v1/orders/paid", headers=headers)).status_code)
    assert codes == [200] * 5 + [429] * 2


def test_worked_example_in_the_open_api_guide_is_right() -> None:
    from gateway.signatures import canonical_request, sign, signing_key_for

    body = b'{"items":[{"supplier_sku":"DRESS-RED-M","available":25}]}'
    key = signing_key_for("sk_test_5f2c8a1e9b7d4c3a")
    canonical = canonical_request(
        "PUT", "/open/v1/catalog/stock", "warehouse=sh&b=2", "1795392000", "n0nce7f3a9c2b1d4e", body
    )
    guide = (Path(__file__).parents[1] / "gateway/src/gateway/open_api_guide.md").read_text()
    assert key.hex() in guide
    assert canonical.decode() in guide
    assert sign(key, canonical) in guide


def test_router_index_agrees_with_first_match_over_all_rules() -> None:
    from gateway.rules import Router, _compile

    settings = GatewaySettings()
    router = Router(settings)
    compiled = [(_compile(r.path), {m.upper() for m in r.methods}, r) for r in settings.rules]
    paths = [
        f"{prefix}{area}{rest}"
        for prefix in ("/api/v1/", "/admin/v1/", "/open/v1/")
        for area in settings.routes
        for rest in ("", "/", "/x", "/wechat/login", "/diagnostics/probes", "/staff/1", "/a/b/c")
    ] + ["/api/v1/marketing/flash-sales/s1/purchase", "/admin/v1/auth/login"]
    for path in paths:
        for method in ("GET", "POST", "DELETE"):
            naive = next(
                (r for p, ms, r in compiled if (not ms or method in ms) and p.match(path)), None
            )
            match = router.match(method, path)
            assert (match.rule if match else None) == naive, (method, path)
