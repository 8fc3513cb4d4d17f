"""The gateway's thin slice: areas route to their service; failures answer the error shape."""

from collections.abc import AsyncIterator

import httpx
import pytest
from devstack.infra import Infra, free_port
from gateway.main import create_app
from gateway.proxy import forward_headers
from shared.context import bind_request_id
from starlette.requests import Request

from tests.support import Processes, eventually


@pytest.fixture
async def gateway(
    processes: Processes,
    envs: dict[str, dict[str, str]],
    infra: Infra,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    port = envs["order"]["ORDER_HTTP_PORT"]
    processes.start(
        "order-http", "-m", "uvicorn", "order.main:create_app", "--factory", "--port", port
    )
    dead = free_port()  # nothing listens here: catalog is "down"
    monkeypatch.setenv(
        "GATEWAY_UPSTREAMS",
        f'{{"order": "http://127.0.0.1:{port}", "catalog": "http://127.0.0.1:{dead}"}}',
    )
    monkeypatch.setenv("GATEWAY_REDIS_URL", infra.redis_db_url(0))
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", timeout=10
        ) as client:

            async def order_up() -> bool:
                r = await client.get("/readyz/services")
                details = r.json().get("error", {}).get("details", [])
                return any(d == {"service": "order", "result": "ok"} for d in details)

            await eventually(order_up, timeout=60)
            yield client


async def test_routes_an_area_to_its_service_and_keeps_the_request_id(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/admin/v1/orders/diagnostics/probes", headers={"X-Request-ID": "gw-trace-1"}
    )
    assert response.status_code == 202
    assert response.json()["type"] == "order.probe_sent"
    assert response.headers["x-request-id"] == "gw-trace-1"
    missing = await gateway.get("/admin/v1/orders/diagnostics/probes/not-a-uuid")
    assert missing.status_code == 422  # the service's own validation error, passed through
    assert missing.json()["error"]["code"] == "validation_error"


async def test_unknown_area_is_a_404(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/api/v1/warehouse/things")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_unreachable_upstream_is_a_502_and_shows_in_readiness(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/api/v1/catalog/products")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    readiness = await gateway.get("/readyz/services")
    assert readiness.status_code == 503
    results = {d["service"]: d["result"] for d in readiness.json()["error"]["details"]}
    assert results["order"] == "ok" and results["catalog"].startswith("failed")
    assert (await gateway.get("/readyz")).json() == {"status": "ready", "checks": {"redis": "ok"}}


def test_hop_by_hop_headers_are_dropped_and_the_request_id_set() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/orders",
        "query_string": b"",
        "client": ("10.0.0.9", 1234),
        "headers": [
            (b"host", b"shop.example"),
            (b"connection", b"keep-alive, x-private-hop"),
            (b"x-private-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", b"Bearer t"),
            (b"x-request-id", b"from-client"),
        ],
    }
    bind_request_id("current-id")
    headers = {k.lower(): v for k, v in forward_headers(Request(scope)).items()}
    assert headers["authorization"] == "Bearer t"
    assert headers["x-request-id"] == "current-id"
    assert headers["x-forwarded-for"] == "10.0.0.9"
    for gone in ("host", "connection", "x-private-hop", "keep-alive", "transfer-encoding"):
        assert gone not in headers
