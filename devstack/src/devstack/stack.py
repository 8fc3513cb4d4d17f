"""What runs on top of the infrastructure: databases, environment, migrations, seeds."""

import asyncio
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from devstack.infra import REDIS_DB, SERVICES, Infra

SERVICE_PORTS = {"catalog": 8001, "order": 8002, "member": 8003, "marketing": 8004, "payment": 8005}


def database_name(service: str, prefix: str = "") -> str:
    return f"{prefix}{service}"


async def create_databases(infra: Infra, names: list[str]) -> None:
    conn = await asyncpg.connect(f"{infra.postgres_url}/postgres")
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_databases(infra: Infra, names: list[str]) -> None:
    conn = await asyncpg.connect(f"{infra.postgres_url}/postgres")
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def service_env(
    infra: Infra, service: str, *, db_prefix: str = "", http_port: int | None = None
) -> dict[str, str]:
    """The environment variables one service's processes read (``<SERVICE>_*``)."""
    p = f"{service.upper()}_"
    env = {
        f"{p}DATABASE_URL": infra.database_url(database_name(service, db_prefix)),
        f"{p}REDIS_URL": infra.redis_db_url(REDIS_DB[service]),
        f"{p}KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        f"{p}HTTP_PORT": str(http_port or SERVICE_PORTS[service]),
    }
    if infra.embedded_kafka:
        env[f"{p}KAFKA_ENABLE_IDEMPOTENCE"] = "false"  # Tansu refuses InitProducerId
        env[f"{p}KAFKA_TOPIC_PARTITIONS"] = "3"
    return env


def migrate(infra: Infra, services: tuple[str, ...] = SERVICES, db_prefix: str = "") -> None:
    """Apply every service's migrations, in parallel processes (Alembic runs its own loop)."""

    def one(service: str) -> None:
        url = infra.database_url(database_name(service, db_prefix))
        result = subprocess.run(
            [sys.executable, "-m", "shared.migrate", "upgrade", service, "--database-url", url],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations of {service} failed:\n{result.stderr[-3000:]}")

    with ThreadPoolExecutor(len(services)) as pool:
        list(pool.map(one, services))


def seed(infra: Infra, services: tuple[str, ...] = SERVICES, db_prefix: str = "") -> list[str]:
    """Run ``python -m <service>.seed`` for each service that has one; returns those seeded."""
    seeded = []
    for service in services:
        if importlib.util.find_spec(f"{service}.seed") is None:
            continue
        env = {**os.environ, **service_env(infra, service, db_prefix=db_prefix)}
        subprocess.run([sys.executable, "-m", f"{service}.seed"], check=True, env=env)
        seeded.append(service)
    return seeded


def prepare(infra: Infra, db_prefix: str = "") -> None:
    names = [database_name(s, db_prefix) for s in SERVICES]
    asyncio.run(create_databases(infra, names))
    migrate(infra, db_prefix=db_prefix)
