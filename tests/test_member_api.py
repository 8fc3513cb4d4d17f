"""Member through its HTTP API: a real member process, the real WeChat simulator process,
real PostgreSQL and Redis. Requests carry the X-Auth-* headers the gateway would set."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from devstack.infra import free_port
from member.crypto import DataBox
from member.settings import DEV_DATA_KEY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MEMBER_ADMIN as ADMIN
from tests.support import LOG_DIR

ADMIN_HEADERS = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "admin"}


@pytest.fixture
async def api(member_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=member_url, timeout=10) as client:
        yield client


@pytest.fixture
async def sim(wechat_sim: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wechat_sim, timeout=10) as client:
        yield client
        await client.delete("/sandbox/faults")


async def login_code(sim: httpx.AsyncClient, openid: str | None = None) -> str:
    response = await sim.post("/sandbox/login-code", json={"openid": openid} if openid else {})
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


async def login(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, openid: str | None = None
) -> dict[str, Any]:
    response = await api.post(
        "/api/v1/auth/wechat/login", json={"code": await login_code(sim, openid)}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_member(member_id: str) -> dict[str, str]:
    return {"X-Auth-Member-Id": member_id}


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# -- login --------------------------------------------------------------------------------


async def test_first_login_creates_the_member_and_the_next_finds_it(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    openid = f"o-first-{uuid.uuid4().hex[:12]}"
    first = await login(api, sim, openid)
    assert first["registered"] is True
    assert first["token_type"] == "Bearer" and first["expires_in"] == 900
    assert set(first) >= {"access_token", "refresh_token", "expires_in", "member"}
    assert "session_key" not in str(first)
    second = await login(api, sim, openid)
    assert second["registered"] is False
    assert second["member"]["id"] == first["member"]["id"]
    async with engines["member"].connect() as conn:
        row = (
            await conn.execute(
                text("SELECT openid, unionid, session_key_sealed FROM members WHERE id = :id"),
                {"id": first["member"]["id"]},
            )
        ).one()
        registered = await conn.scalar(
            text(
                "SELECT count(*) FROM outbox"
                " WHERE type = 'member.registered' AND aggregate_id = :id"
            ),
            {"id": first["member"]["id"]},
        )
    assert row.openid == openid
    assert row.unionid is not None
    assert row.session_key_sealed is not None and len(row.session_key_sealed) > 28
    assert registered == 1


async def test_a_used_code_is_refused(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    code = await login_code(sim)
    assert (await api.post("/api/v1/auth/wechat/login", json={"code": code})).status_code == 200
    again = await api.post("/api/v1/auth/wechat/login", json={"code": code})
    assert again.status_code == 401
    assert error_code(again) == "wechat_code_invalid"


async def test_an_unknown_code_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/auth/wechat/login", json={"code": "not-a-real-code"})
    assert response.status_code == 401
    assert error_code(response) == "wechat_code_invalid"


async def test_an_expired_code_is_refused(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    code = await login_code(sim)
    assert (await sim.post("/sandbox/clock", json={"seconds": 301})).status_code == 200
    response = await api.post("/api/v1/auth/wechat/login", json={"code": code})
    assert response.status_code == 401
    assert error_code(response) == "wechat_code_invalid"


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_user_blocked"),
        (-1, 503, "wechat_unavailable"),
        (40029, 401, "wechat_code_invalid"),
    ],
)
async def test_wechat_login_errors_become_clear_errors(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, errcode: int, status: int, code: str
) -> None:
    openid = f"o-err-{uuid.uuid4().hex[:12]}"
    fault = {"api": "jscode2session", "errcode": errcode, "openid": openid}
    assert (await sim.post("/sandbox/faults", json=fault)).status_code == 201
    response = await api.post(
        "/api/v1/auth/wechat/login", json={"code": await login_code(sim, openid)}
    )
    assert response.status_code == status, response.text
    assert error_code(response) == code
    if status == 429:
        assert response.headers["retry-after"] == "60"
    if status == 503:
        assert {"retryable": True} in response.json()["error"]["details"]
    # The fault was one call only: this user logs in fine afterwards.
    assert (await login(api, sim, openid))["member"]["id"]


# -- tokens -------------------------------------------------------------------------------


async def refresh(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_reuse_revokes_the_family(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    first = await login(api, sim)
    other_device = await login(api, sim)
    second = await refresh(api, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]
    third = await refresh(api, second.json()["refresh_token"])
    assert third.status_code == 200
    replayed = await refresh(api, first["refresh_token"])  # the stolen, already used token
    assert replayed.status_code == 401
    assert error_code(replayed) == "refresh_token_reused"
    # The whole family is dead, including the newest token.
    latest = await refresh(api, third.json()["refresh_token"])
    assert latest.status_code == 401
    assert error_code(latest) == "refresh_token_invalid"
    # Another login (another family) is untouched.
    assert (await refresh(api, other_device["refresh_token"])).status_code == 200


async def test_logout_revokes_the_refresh_token(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    pair = await login(api, sim)
    out = await api.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert out.status_code == 204
    after = await refresh(api, pair["refresh_token"])
    assert after.status_code == 401
    assert error_code(after) == "refresh_token_invalid"


async def test_jwks_verifies_member_and_staff_access_tokens(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    pair = await login(api, sim)
    jwks = (await api.get("/.well-known/jwks.json")).json()
    keys = {k["kid"]: k for k in jwks["keys"]}
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "EdDSA"
    key = jwt.PyJWK(keys[header["kid"]], algorithm="EdDSA")
    assert keys[header["kid"]]["kty"] == "OKP" and keys[header["kid"]]["crv"] == "Ed25519"
    claims = jwt.decode(
        pair["access_token"],
        key,
        algorithms=["EdDSA"],
        audience="minimall-api",
        issuer="minimall-member",
    )
    assert claims["sub"] == pair["member"]["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(pair["access_token"], key, algorithms=["EdDSA"], audience="minimall-admin")
    tampered = pair["access_token"][:-4] + (
        "AAAA" if not pair["access_token"].endswith("AAAA") else "BBBB"
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key, algorithms=["EdDSA"], audience="minimall-api")

    staff = await api.post(
        "/admin/v1/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
    )
    assert staff.status_code == 200, staff.text
    staff_claims = jwt.decode(
        staff.json()["access_token"],
        key,
        algorithms=["EdDSA"],
        audience="minimall-admin",
        issuer="minimall-member",
    )
    assert staff_claims["roles"] == ["admin"]
    assert staff_claims["sub"] == staff.json()["staff"]["id"]


# -- staff --------------------------------------------------------------------------------


async def create_staff(api: httpx.AsyncClient, roles: list[str]) -> tuple[str, str, str]:
    username = f"staff-{uuid.uuid4().hex[:10]}"
    password = "correct horse battery"
    response = await api.post(
        "/admin/v1/members/staff",
        json={"username": username, "password": password, "roles": roles},
        headers=ADMIN_HEADERS,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), username, password


async def test_staff_are_locked_out_after_repeated_failures(api: httpx.AsyncClient) -> None:
    staff_id, username, password = await create_staff(api, ["operator"])
    for _ in range(5):
        wrong = await api.post(
            "/admin/v1/auth/login", json={"username": username, "password": "wrong password"}
        )
        assert wrong.status_code == 401
        assert error_code(wrong) == "staff_credentials_invalid"
    locked = await api.post(
        "/admin/v1/auth/login", json={"username": username, "password": password}
    )
    assert locked.status_code == 423
    assert error_code(locked) == "staff_locked"
    assert int(locked.headers["retry-after"]) > 0
    unlocked = await api.post(f"/admin/v1/members/staff/{staff_id}/unlock", headers=ADMIN_HEADERS)
    assert unlocked.status_code == 204
    ok = await api.post("/admin/v1/auth/login", json={"username": username, "password": password})
    assert ok.status_code == 200
    assert ok.json()["staff"]["roles"] == ["operator"]


async def test_a_successful_login_resets_the_failure_count(api: httpx.AsyncClient) -> None:
    _, username, password = await create_staff(api, ["finance"])
    for _ in range(3):
        await api.post("/admin/v1/auth/login", json={"username": username, "password": "nope"})
    assert (
        await api.post("/admin/v1/auth/login", json={"username": username, "password": password})
    ).status_code == 200
    for _ in range(4):
        await api.post("/admin/v1/auth/login", json={"username": username, "password": "nope"})
    assert (
        await api.post("/admin/v1/auth/login", json={"username": username, "password": password})
    ).status_code == 200


async def test_roles_guard_the_admin_api(api: httpx.AsyncClient) -> None:
    operator = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "operator"}
    finance = {"X-Auth-Staff-Id": str(uuid.uuid4()), "X-Auth-Staff-Roles": "finance"}
    assert (await api.get("/admin/v1/members/staff")).status_code == 401
    assert (await api.get("/admin/v1/members/staff", headers=operator)).status_code == 403
    listed = await api.get("/admin/v1/members/staff", headers=ADMIN_HEADERS)
    assert listed.status_code == 200 and listed.json()["total"] >= 1
    level = {"name": f"L{uuid.uuid4().hex[:6]}", "min_growth": 900_000 + free_port() % 90_000}
    assert (
        await api.post("/admin/v1/members/levels", json=level, headers=finance)
    ).status_code == 403
    created = await api.post("/admin/v1/members/levels", json=level, headers=operator)
    assert created.status_code == 201, created.text
    deleted = await api.delete(f"/admin/v1/members/levels/{created.json()['id']}", headers=operator)
    assert deleted.status_code == 204


async def test_the_last_admin_cannot_be_demoted(api: httpx.AsyncClient) -> None:
    staff = (await api.get("/admin/v1/members/staff?page_size=100", headers=ADMIN_HEADERS)).json()
    admins = [s for s in staff["items"] if "admin" in s["roles"] and s["active"]]
    assert [a["username"] for a in admins] == [ADMIN[0]]
    response = await api.patch(
        f"/admin/v1/members/staff/{admins[0]['id']}",
        json={"roles": ["operator"]},
        headers=ADMIN_HEADERS,
    )
    assert response.status_code == 409
    assert error_code(response) == "last_admin"


# -- profile, phone, addresses ------------------------------------------------------------

ADDRESS = {
    "recipient_name": "张三",
    "phone": "13912345678",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园路 1 号",
}


async def test_addresses_at_most_twenty_and_one_default(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    me = as_member((await login(api, sim))["member"]["id"])
    ids = []
    for i in range(20):
        body = {**ADDRESS, "detail": f"科技园路 {i} 号", "is_default": i == 5}
        response = await api.post("/api/v1/members/me/addresses", json=body, headers=me)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    over = await api.post("/api/v1/members/me/addresses", json=ADDRESS, headers=me)
    assert over.status_code == 409
    assert error_code(over) == "address_limit_reached"

    async def defaults() -> list[str]:
        page = (await api.get("/api/v1/members/me/addresses?page_size=50", headers=me)).json()
        assert page["total"] == len(ids)
        return [a["id"] for a in page["items"] if a["is_default"]]

    assert await defaults() == [ids[5]]
    made = await api.post(f"/api/v1/members/me/addresses/{ids[9]}/default", headers=me)
    assert made.status_code == 200 and made.json()["is_default"] is True
    assert await defaults() == [ids[9]]
    patched = await api.patch(
        f"/api/v1/members/me/addresses/{ids[2]}", json={"is_default": True}, headers=me
    )
    assert patched.status_code == 200
    assert await defaults() == [ids[2]]
    assert (
        await api.delete(f"/api/v1/members/me/addresses/{ids[2]}", headers=me)
    ).status_code == 204
    ids.remove(ids[2])
    assert len(await defaults()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"phone": "12345678901"},
        {"phone": "1391234567"},
        {"recipient_name": ""},
        {"detail": "x"},
        {"postal_code": "51800"},
        {"province": "省" * 33},
        {"unknown": "field"},
    ],
)
async def test_address_fields_are_validated(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, change: dict[str, str]
) -> None:
    me = as_member((await login(api, sim))["member"]["id"])
    response = await api.post(
        "/api/v1/members/me/addresses", json={**ADDRESS, **change}, headers=me
    )
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_a_member_cannot_see_or_change_anothers_addresses_or_points(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    alice = as_member((await login(api, sim))["member"]["id"])
    bob = as_member((await login(api, sim))["member"]["id"])
    created = await api.post("/api/v1/members/me/addresses", json=ADDRESS, headers=alice)
    address = f"/api/v1/members/me/addresses/{created.json()['id']}"
    assert (await api.get(address, headers=bob)).status_code == 404
    assert (await api.patch(address, json={"city": "北京市"}, headers=bob)).status_code == 404
    assert (await api.post(f"{address}/default", headers=bob)).status_code == 404
    assert (await api.delete(address, headers=bob)).status_code == 404
    assert (await api.get("/api/v1/members/me/addresses", headers=bob)).json()["total"] == 0
    assert (await api.get(address, headers=alice)).json()["city"] == "深圳市"
    assert (await api.post("/api/v1/members/me/points/sign-ins", headers=alice)).status_code == 201
    bob_points = (await api.get("/api/v1/members/me/points", headers=bob)).json()
    assert bob_points["balance"] == 0 and bob_points["ledger"]["total"] == 0
    assert (await api.get(address)).status_code == 401  # no identity at all


async def test_phone_is_masked_everywhere_and_encrypted_at_rest(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    engines: dict[str, AsyncEngine],
    member_url: str,
) -> None:
    phone = f"138{free_port() % 10000:04d}5678"
    logged = await login(api, sim)
    me = as_member(logged["member"]["id"])
    code = (
        await sim.post(
            "/sandbox/phone-code",
            json={"openid": await _openid(engines, me), "phone_number": phone},
        )
    ).json()["code"]
    bound = await api.put("/api/v1/members/me/phone", json={"code": code}, headers=me)
    assert bound.status_code == 200, bound.text
    masked = f"{phone[:3]}****{phone[-4:]}"
    assert bound.json()["phone"] == masked
    address = {**ADDRESS, "phone": phone}
    created = await api.post("/api/v1/members/me/addresses", json=address, headers=me)
    assert created.json()["phone"] == masked
    responses = [
        bound.text,
        created.text,
        (await api.get("/api/v1/members/me", headers=me)).text,
        (await api.get("/api/v1/members/me/addresses", headers=me)).text,
        (await api.get("/api/v1/members/me/export", headers=me)).text,
    ]
    assert all(phone not in r for r in responses)
    assert all(masked in r for r in responses[:2])
    async with engines["member"].connect() as conn:
        sealed, stored_mask = (
            await conn.execute(
                text("SELECT phone_sealed, phone_masked FROM members WHERE id = :id"),
                {"id": me["X-Auth-Member-Id"]},
            )
        ).one()
        address_sealed = await conn.scalar(
            text("SELECT phone_sealed FROM addresses WHERE member_id = :id"),
            {"id": me["X-Auth-Member-Id"]},
        )
    assert stored_mask == masked
    assert phone.encode() not in sealed and phone.encode() not in address_sealed
    box = DataBox(DEV_DATA_KEY)
    assert box.open(sealed, f"phone:{me['X-Auth-Member-Id']}") == phone
    with pytest.raises(ValueError):
        box.open(sealed, f"phone:{uuid.uuid4()}")  # bound to its row
    # The internal shipping view (order service, not member-facing) has the full number.
    shipping = await api.get(
        f"/internal/v1/members/{me['X-Auth-Member-Id']}/addresses/{created.json()['id']}"
    )
    assert shipping.json()["phone_number"] == phone
    log_files = list(LOG_DIR.glob("member-api-*.log"))
    assert log_files and all(phone not in f.read_text(errors="replace") for f in log_files)


async def _openid(engines: dict[str, AsyncEngine], me: dict[str, str]) -> str:
    async with engines["member"].connect() as conn:
        return str(
            await conn.scalar(
                text("SELECT openid FROM members WHERE id = :id"), {"id": me["X-Auth-Member-Id"]}
            )
        )


async def test_profile_update(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    me = as_member((await login(api, sim))["member"]["id"])
    body = {"nickname": "小明", "avatar_url": "https://img.example.com/a.png"}
    updated = await api.patch("/api/v1/members/me", json=body, headers=me)
    assert updated.status_code == 200
    assert updated.json()["nickname"] == "小明"
    bad = await api.patch("/api/v1/members/me", json={"avatar_url": "http://x"}, headers=me)
    assert bad.status_code == 422


# -- points and privacy -------------------------------------------------------------------


async def test_daily_sign_in_earns_once(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    me = as_member((await login(api, sim))["member"]["id"])
    first = await api.post("/api/v1/members/me/points/sign-ins", headers=me)
    assert first.status_code == 201 and first.json()["points"] == 5
    again = await api.post("/api/v1/members/me/points/sign-ins", headers=me)
    assert again.status_code == 409
    assert error_code(again) == "already_signed_in"
    points = (await api.get("/api/v1/members/me/points", headers=me)).json()
    assert points["balance"] == 5
    assert [e["kind"] for e in points["ledger"]["items"]] == ["sign_in"]


async def test_holds_commit_and_release_through_the_internal_api(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    member_id = (await login(api, sim))["member"]["id"]
    me = as_member(member_id)
    await api.post("/api/v1/members/me/points/sign-ins", headers=me)
    base = f"/internal/v1/members/{member_id}/points/holds"
    too_much = await api.post(base, json={"reference": "order-x", "points": 6})
    assert too_much.status_code == 409 and error_code(too_much) == "insufficient_points"
    held = await api.post(base, json={"reference": "order-1", "points": 3})
    assert held.status_code == 201 and held.json()["status"] == "held"
    assert (await api.post(base, json={"reference": "order-1", "points": 3})).status_code == 201
    assert (await api.post(f"{base}/order-1/commit")).json()["status"] == "committed"
    assert (await api.post(f"{base}/order-1/release")).status_code == 409
    await api.post(base, json={"reference": "order-2", "points": 2})
    assert (await api.post(f"{base}/order-2/release")).json()["status"] == "released"
    points = (await api.get("/api/v1/members/me/points", headers=me)).json()
    assert (points["balance"], points["held"]) == (2, 0)


async def test_export_then_delete_the_account(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    openid = f"o-pipl-{uuid.uuid4().hex[:12]}"
    logged = await login(api, sim, openid)
    me = as_member(logged["member"]["id"])
    await api.patch("/api/v1/members/me", json={"nickname": "要删除"}, headers=me)
    await api.post("/api/v1/members/me/addresses", json=ADDRESS, headers=me)
    await api.post("/api/v1/members/me/points/sign-ins", headers=me)
    exported = (await api.get("/api/v1/members/me/export", headers=me)).json()
    assert exported["profile"]["nickname"] == "要删除"
    assert exported["wechat"]["openid"] == openid
    assert len(exported["addresses"]) == 1 and len(exported["points_ledger"]) == 1
    assert "session_key" not in str(exported)

    assert (await api.delete("/api/v1/members/me", headers=me)).status_code == 204
    gone = await api.get("/api/v1/members/me", headers=me)
    assert gone.status_code == 401 and error_code(gone) == "member_gone"
    assert (await refresh(api, logged["refresh_token"])).status_code == 401
    async with engines["member"].connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT openid, unionid, nickname, phone_sealed, session_key_sealed, status"
                    " FROM members WHERE id = :id"
                ),
                {"id": me["X-Auth-Member-Id"]},
            )
        ).one()
        addresses = await conn.scalar(
            text("SELECT count(*) FROM addresses WHERE member_id = :id"),
            {"id": me["X-Auth-Member-Id"]},
        )
        ledger = await conn.scalar(
            text("SELECT count(*) FROM points_ledger WHERE member_id = :id"),
            {"id": me["X-Auth-Member-Id"]},
        )
    assert tuple(row) == (None, None, None, None, None, "deleted")
    assert addresses == 0 and ledger == 1  # the ledger stays for accounting
    again = await login(api, sim, openid)  # the same WeChat user starts afresh
    assert again["registered"] is True and again["member"]["id"] != logged["member"]["id"]
