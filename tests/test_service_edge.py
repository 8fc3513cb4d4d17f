"""The request edge of every service: one error shape, request ids, the transaction boundary."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from devstack.infra import Infra
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from shared.app import create_service_app
from shared.context import bind_request_id
from shared.db import SessionDep
from shared.errors import Conflict
from shared.http import ServiceClient, UpstreamError, create_http_client
from shared.inbox import InboxRow
from shared.outbox import OutboxRow, add_event
from shared.pagination import Page, PageParamsDep
from shared.settings import ServiceSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


class Thing(BaseModel):
    name: str
    quantity: int


def edge_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/things")

    @router.post("", status_code=201)
    async def create(thing: Thing, session: SessionDep) -> Thing:
        add_event(session, "order.thing_created", thing.name, thing.model_dump())
        if thing.quantity > 10:
            raise Conflict("Too many things.", details=[{"max": 10}])
        if thing.quantity < 0:
            raise RuntimeError("a bug")
        return thing

    @router.post("/inbox/{event_id}", status_code=201)
    async def write_inbox(event_id: uuid.UUID, session: SessionDep) -> dict[str, str]:
        session.add(InboxRow(event_id=event_id, type="order.thing_created"))
        return {"status": "written"}

    @router.get("")
    async def list_things(params: PageParamsDep) -> Page[Thing]:
        items = [Thing(name=f"t{i}", quantity=i) for i in range(params.offset, 45)]
        return Page.of(items[: params.page_size], 45, params)

    return router


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://order") as client:
            yield client


@pytest.fixture
def app(infra: Infra, envs: dict[str, dict[str, str]]) -> FastAPI:
    settings = ServiceSettings(
        service_name="order",
        database_url=envs["order"]["ORDER_DATABASE_URL"],
        redis_url=envs["order"]["ORDER_REDIS_URL"],
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        log_json=True,
    )
    return create_service_app(settings, title="edge test", routers=[edge_router()])


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as http:
        yield http


async def staged(engine: AsyncEngine, aggregate_id: str) -> int:
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.aggregate_id == aggregate_id)
        )
    return int(count or 0)


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return dict(error)


async def test_success_commits_the_change_and_its_event(
    client: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    name = f"ok-{uuid.uuid4()}"
    response = await client.post("/api/v1/things", json={"name": name, "quantity": 1})
    assert response.status_code == 201
    assert await staged(engines["order"], name) == 1


async def test_app_error_rolls_back_and_answers_the_error_shape(
    client: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    name = f"conflict-{uuid.uuid4()}"
    response = await client.post("/api/v1/things", json={"name": name, "quantity": 11})
    error = assert_error_shape(response, 409, "conflict")
    assert error["details"] == [{"max": 10}]
    assert await staged(engines["order"], name) == 0


async def test_unexpected_error_is_a_500_in_the_same_shape_and_rolls_back(
    client: httpx.AsyncClient, engines: dict[str, AsyncEngine]
) -> None:
    name = f"bug-{uuid.uuid4()}"
    response = await client.post("/api/v1/things", json={"name": name, "quantity": -1})
    assert_error_shape(response, 500, "internal_error")
    assert "a bug" not in response.text
    assert await staged(engines["order"], name) == 0


async def test_failed_commit_is_never_reported_as_success(client: httpx.AsyncClient) -> None:
    event_id = uuid.uuid4()
    first = await client.post(f"/api/v1/things/inbox/{event_id}")
    assert first.status_code == 201
    second = await client.post(f"/api/v1/things/inbox/{event_id}")  # primary key clash at commit
    assert_error_shape(second, 500, "internal_error")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/v1/things", {"name": "x"}, 422, "validation_error"),
        ("POST", "/api/v1/things", {"name": "x", "quantity": "many"}, 422, "validation_error"),
        ("GET", "/api/v1/things?page=0", None, 422, "validation_error"),
        ("GET", "/api/v1/things?page_size=1000", None, 422, "validation_error"),
        ("GET", "/api/v1/nothing-here", None, 404, "not_found"),
        ("DELETE", "/api/v1/things", None, 405, "method_not_allowed"),
    ],
)
async def test_framework_errors_share_the_shape(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    code: str,
) -> None:
    response = await client.request(method, path, json=body)
    assert_error_shape(response, status, code)


async def test_malformed_json_body_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 422, "validation_error")


async def test_request_id_is_accepted_or_created_and_returned(client: httpx.AsyncClient) -> None:
    given = await client.get("/api/v1/things", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/api/v1/things")
    assert len(made.headers["x-request-id"]) == 32
    hostile = await client.get("/api/v1/things", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500


async def test_lists_page(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/things?page=3&page_size=20")).json()
    assert body["total"] == 45 and body["page"] == 3 and body["page_size"] == 20
    assert [t["name"] for t in body["items"]] == [f"t{i}" for i in range(40, 45)]


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok", "kafka": "ok"}}
    await client.get("/api/v1/things")
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/things"' in metrics
    assert 'outbox_backlog{service="order"}' in metrics


class Recording(httpx.AsyncBaseTransport):
    """The real app behind an ASGI transport, remembering the request ids it was sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.request_ids: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.request_ids.append(request.headers.get("x-request-id", ""))
        return await self.inner.handle_async_request(request)


async def test_typed_client_carries_the_request_id_and_upstream_errors(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    transport = Recording(httpx.ASGITransport(app=app))
    http = create_http_client("http://order", transport=transport)
    typed = ServiceClient(http, "order")
    bind_request_id("rid-42")
    page = await typed._call("GET", "/api/v1/things", Page[Thing])
    assert page.total == 45
    with pytest.raises(UpstreamError) as caught:
        await typed._call("GET", "/api/v1/nothing-here", Page[Thing])
    assert caught.value.status_code == 404 and caught.value.code == "not_found"
    assert transport.request_ids == ["rid-42", "rid-42"]
    await http.aclose()
