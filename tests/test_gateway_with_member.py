"""The gateway in front of the real member service: supplier API keys end to end (staff
issue a key, it signs open API calls the gateway verifies against member, a revoked key stops
working) and the merged OpenAPI documents."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from devstack.infra import Infra
from gateway.settings import GatewaySettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import MEMBER_ADMIN
from tests.gatewaykit import gateway, signed_headers


@pytest.fixture
async def gw(member_url: str, infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        upstreams={"member": member_url}, redis_url=infra.redis_db_url(9), api_key_cache_s=0.2
    )
    async with gateway(settings) as client:
        yield client


async def staff_token(gw: httpx.AsyncClient) -> dict[str, str]:
    username, password = MEMBER_ADMIN
    login = await gw.post("/admin/v1/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_issued_key_signs_requests_until_revoked(
    gw: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    staff = await staff_token(gw)
    supplier = f"sup-{uuid.uuid4().hex[:6]}"
    issued = await gw.post(
        "/admin/v1/members/api-keys",
        json={"supplier_id": supplier, "name": "ERP", "per_minute": 100},
        headers=staff,
    )
    assert issued.status_code == 201, issued.text
    key_id, secret = issued.json()["key_id"], issued.json()["secret"]
    listed = await gw.get(f"/admin/v1/members/api-keys?supplier_id={supplier}", headers=staff)
    assert [k["key_id"] for k in listed.json()["items"]] == [key_id]
    assert "secret" not in listed.json()["items"][0]

    path = "/open/v1/members/ping"
    signed = await gw.get(path, headers=signed_headers(key_id, secret, "GET", path))
    # Past the gateway: member itself answers (it serves no such open route).
    assert signed.status_code == 404 and signed.json()["error"]["code"] == "not_found"
    forged = await gw.get(path, headers=signed_headers(key_id, "sk_guess", "GET", path))
    assert forged.status_code == 401

    async with engines["member"].connect() as conn:
        sealed = await conn.scalar(
            text("SELECT signing_key_sealed FROM api_keys WHERE key_id = :k"), {"k": key_id}
        )
    assert secret.encode() not in sealed

    revoked = await gw.post(f"/admin/v1/members/api-keys/{key_id}/revoke", headers=staff)
    assert revoked.json()["status"] == "revoked"
    await asyncio.sleep(0.3)  # the gateway's key cache time in this test
    after = await gw.get(path, headers=signed_headers(key_id, secret, "GET", path))
    assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_signature"


async def test_only_admins_manage_keys(gw: httpx.AsyncClient) -> None:
    assert (await gw.post("/admin/v1/members/api-keys", json={})).status_code == 401
    staff = await staff_token(gw)
    bad = await gw.post(
        "/admin/v1/members/api-keys", json={"supplier_id": "has space", "name": ""}, headers=staff
    )
    assert bad.status_code == 422


async def test_gateway_merges_the_services_openapi_with_auth_schemes(gw: httpx.AsyncClient) -> None:
    public = (await gw.get("/openapi.json")).json()
    schemes = public["components"]["securitySchemes"]
    assert set(schemes) == {"memberBearer", "staffBearer"}
    paths = public["paths"]
    assert paths["/api/v1/auth/wechat/login"]["post"]["security"] == []
    assert paths["/api/v1/members/me"]["get"]["security"] == [{"memberBearer": []}]
    staff_route = paths["/admin/v1/members/staff"]["get"]
    assert staff_route["security"] == [{"staffBearer": []}]
    assert "Roles: admin." in staff_route["description"]
    assert not [p for p in paths if p.startswith("/internal/") or p.startswith("/.well-known")]
    supplier = (await gw.get("/open/openapi.json")).json()
    assert "X-Signature" in supplier["info"]["description"]
    assert set(supplier["components"]["securitySchemes"]) == {"supplierKey", "supplierSignature"}
    assert (await gw.get("/docs")).status_code == 200
    assert (await gw.get("/open/docs")).status_code == 200
