"""What runs on top of the infrastructure: databases, environment, migrations, seeds."""

import asyncio
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from wechat_sim.pay.keys import MERCHANT_KEY as WECHATPAY_MERCHANT_KEY
from wechat_sim.pay.keys import PUB_KEY_PUBLIC, DevKeys, ensure_dev_keys
from wechat_sim.settings import DEV_APPID, DEV_SECRET

from devstack.infra import REDIS_DB, SERVICES, Infra

SERVICE_PORTS = {"catalog": 8001, "order": 8002, "member": 8003, "marketing": 8004, "payment": 8005}
WECHAT_SIM_PORT = 8900
# Development-only staff account, used unless ADMIN_USERNAME / ADMIN_PASSWORD are set.
DEV_ADMIN_USERNAME = "admin"
DEV_ADMIN_PASSWORD = "minimall-dev-admin"


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


def peer_urls(service: str, ports: dict[str, int]) -> dict[str, str]:
    """``<SERVICE>_<OTHER>_URL`` for every other service: where its typed clients call."""
    return {
        f"{service.upper()}_{other.upper()}_URL": f"http://127.0.0.1:{port}"
        for other, port in ports.items()
        if other != service
    }


def wechat_sim_env(port: int) -> dict[str, str]:
    """The simulator's environment: the mini-program pair member uses in development."""
    return {
        "WECHAT_SIM_HOST": "127.0.0.1",
        "WECHAT_SIM_PORT": str(port),
        "WECHAT_SIM_APPID": DEV_APPID,
        "WECHAT_SIM_SECRET": DEV_SECRET,
    }


def member_wechat_env(base_url: str) -> dict[str, str]:
    """What points member at a WeChat simulator (``MEMBER_WECHAT_*``)."""
    return {
        "MEMBER_WECHAT_API_BASE_URL": base_url,
        "MEMBER_WECHAT_APPID": DEV_APPID,
        "MEMBER_WECHAT_SECRET": DEV_SECRET,
    }


def wechatpay_dev_keys(data_dir: Path) -> DevKeys:
    """The dev WeChat Pay keys (merchant's and WeChat's) under ``<data_dir>/wechatpay``,
    generated on the first run; the simulator and payment both get their paths."""
    return ensure_dev_keys(data_dir / "wechatpay")


def wechat_sim_pay_env(keys: DevKeys, *, time_scale: float = 1.0) -> dict[str, str]:
    """What the simulator's WeChat Pay reads (``WECHAT_SIM_PAY_*``)."""
    return {
        "WECHAT_SIM_PAY_KEYS_DIR": str(keys.directory),
        "WECHAT_SIM_PAY_TIME_SCALE": str(time_scale),
    }


def payment_wechatpay_env(
    base_url: str,
    keys: DevKeys,
    *,
    notify_url: str = "",
    refund_notify_url: str = "",
    mode: str = "public_key",
) -> dict[str, str]:
    """What points payment's WeChat Pay client at a simulator (``PAYMENT_WECHATPAY_*``)."""
    return {
        "PAYMENT_WECHATPAY_BASE_URL": base_url,
        "PAYMENT_WECHATPAY_MCHID": keys.mchid,
        "PAYMENT_WECHATPAY_APPID": DEV_APPID,
        "PAYMENT_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE": str(keys.path(WECHATPAY_MERCHANT_KEY)),
        "PAYMENT_WECHATPAY_MERCHANT_SERIAL": keys.merchant_serial,
        "PAYMENT_WECHATPAY_APIV3_KEY": keys.apiv3_key,
        "PAYMENT_WECHATPAY_MODE": mode,
        "PAYMENT_WECHATPAY_PUBLIC_KEY_FILE": str(keys.path(PUB_KEY_PUBLIC)),
        "PAYMENT_WECHATPAY_PUBLIC_KEY_ID": keys.pub_key_id,
        "PAYMENT_WECHATPAY_NOTIFY_URL": notify_url,
        "PAYMENT_WECHATPAY_REFUND_NOTIFY_URL": refund_notify_url,
    }


def admin_env(username: str, password: str) -> dict[str, str]:
    return {"MEMBER_ADMIN_USERNAME": username, "MEMBER_ADMIN_PASSWORD": password}


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


def seed(
    infra: Infra,
    services: tuple[str, ...] = SERVICES,
    db_prefix: str = "",
    extra_env: dict[str, str] | None = None,
) -> list[str]:
    """Run ``python -m <service>.seed`` for each service that has one; returns those seeded."""
    seeded = []
    for service in services:
        if importlib.util.find_spec(f"{service}.seed") is None:
            continue
        env = {
            **os.environ,
            **service_env(infra, service, db_prefix=db_prefix),
            **(extra_env or {}),
        }
        subprocess.run([sys.executable, "-m", f"{service}.seed"], check=True, env=env)
        seeded.append(service)
    return seeded


def prepare(infra: Infra, db_prefix: str = "") -> None:
    names = [database_name(s, db_prefix) for s in SERVICES]
    asyncio.run(create_databases(infra, names))
    migrate(infra, db_prefix=db_prefix)
