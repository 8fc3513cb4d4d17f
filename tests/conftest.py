"""Real PostgreSQL, Redis and Kafka for the whole session (embedded unless URLs are set).

Test databases are ``t_<service>``, created fresh and migrated once per session.
"""

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from devstack.infra import SERVICES, Infra, start_infra
from devstack.stack import (
    create_databases,
    database_name,
    drop_databases,
    migrate,
    peer_urls,
    service_env,
)
from shared.db import create_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from wechat_sim.pay.keys import DevKeys

from tests.support import PrivateBroker, Processes

DB_PREFIX = "t_"


@pytest.fixture(scope="module")
def private_broker() -> Iterator[PrivateBroker]:
    """A broker of the module's own, for tests that take the broker down."""
    with tempfile.TemporaryDirectory(prefix="minimall-test-kafka-") as data_dir:
        broker = PrivateBroker(Path(data_dir))
        try:
            yield broker
        finally:
            broker.server.stop()


@pytest.fixture(scope="session")
async def infra() -> AsyncIterator[Infra]:
    with tempfile.TemporaryDirectory(prefix="minimall-test-") as data_dir:
        stack = start_infra(Path(data_dir))
        try:
            names = [database_name(s, DB_PREFIX) for s in SERVICES]
            await drop_databases(stack, names)
            await create_databases(stack, names)
            migrate(stack, db_prefix=DB_PREFIX)
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def envs(infra: Infra) -> dict[str, dict[str, str]]:
    """Per service, the environment its processes get (ports chosen freely)."""
    from devstack.infra import free_port

    ports = {s: free_port() for s in SERVICES}
    return {
        s: {
            **service_env(infra, s, db_prefix=DB_PREFIX, http_port=ports[s]),
            **peer_urls(s, ports),
            f"{s.upper()}_LOG_LEVEL": "INFO",
        }
        for s in SERVICES
    }


@pytest.fixture
def processes(envs: dict[str, dict[str, str]]) -> Iterator[Processes]:
    merged = {k: v for env in envs.values() for k, v in env.items()}
    procs = Processes(env={**{k: v for k, v in os.environ.items()}, **merged})
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def engines(infra: Infra) -> AsyncIterator[dict[str, AsyncEngine]]:
    made = {
        s: create_engine(infra.database_url(database_name(s, DB_PREFIX)), pool_size=2)
        for s in SERVICES
    }
    try:
        yield made
    finally:
        for engine in made.values():
            await engine.dispose()


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)


# WeChat Pay waits (notification retries 15 s … 6 h, refund settling) are this fraction of
# real time in the simulator the tests start.
WECHAT_PAY_TIME_SCALE = 0.01


@pytest.fixture(scope="session")
def wechatpay_keys() -> Iterator[DevKeys]:
    """Dev WeChat Pay keys (merchant's and WeChat's) that the simulator and the tests share."""
    from wechat_sim.pay.keys import ensure_dev_keys

    with tempfile.TemporaryDirectory(prefix="minimall-wechatpay-") as directory:
        yield ensure_dev_keys(Path(directory) / "keys")


@pytest.fixture(scope="session")
def wechat_sim(wechatpay_keys: DevKeys) -> Iterator[str]:
    """The WeChat simulator as its own process, on a free port: its base URL."""
    from devstack.infra import free_port
    from devstack.stack import wechat_sim_env, wechat_sim_pay_env

    port = free_port()
    procs = Processes(
        env={
            **wechat_sim_env(port),
            **wechat_sim_pay_env(wechatpay_keys, time_scale=WECHAT_PAY_TIME_SCALE),
        }
    )
    procs.start("wechat-sim", "-m", "wechat_sim")
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all()


MEMBER_ADMIN = ("root-admin", "root-admin-password")


@pytest.fixture(scope="session")
def member_url(envs: dict[str, dict[str, str]], wechat_sim: str) -> Iterator[str]:
    """A real member process (on the test database) whose first admin is ``MEMBER_ADMIN``."""
    import uuid

    from devstack.stack import admin_env, member_wechat_env

    port = int(envs["member"]["MEMBER_HTTP_PORT"])  # where the other services look for it
    procs = Processes(
        env={
            **envs["member"],
            **member_wechat_env(wechat_sim),
            **admin_env(*MEMBER_ADMIN),
            "MEMBER_HTTP_PORT": str(port),
        }
    )
    name = f"member-api-{uuid.uuid4().hex[:8]}"
    procs.start(name, "-m", "uvicorn", "member.main:create_app", "--factory", "--port", str(port))
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all()
