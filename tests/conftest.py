"""Real PostgreSQL, Redis and Kafka for the whole session (embedded unless URLs are set).

Test databases are ``t_<service>``, created fresh and migrated once per session.
"""

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from devstack.infra import SERVICES, Infra, start_infra
from devstack.stack import create_databases, database_name, drop_databases, migrate, service_env
from shared.db import create_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import Processes

DB_PREFIX = "t_"


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

    return {
        s: {
            **service_env(infra, s, db_prefix=DB_PREFIX, http_port=free_port()),
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
