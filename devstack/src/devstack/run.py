"""``make run``: infrastructure, migrations, seeds, then every process of the suite.

The gateway, each service's HTTP app, consumer and outbox relay run as separate
processes. Ctrl-C (or SIGTERM) stops them all, then the embedded servers, and returns.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from wechat_sim.pay.keys import DevKeys

from devstack.infra import (
    REDIS_DB,
    SERVICES,
    Infra,
    die_with_parent,
    free_port,
    port_open,
    start_infra,
)
from devstack.stack import (
    DEV_ADMIN_PASSWORD,
    DEV_ADMIN_USERNAME,
    SERVICE_PORTS,
    WECHAT_SIM_PORT,
    admin_env,
    member_wechat_env,
    payment_wechatpay_env,
    peer_urls,
    prepare,
    seed,
    service_env,
    wechat_sim_env,
    wechat_sim_pay_env,
    wechatpay_dev_keys,
)


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _uvicorn(app: str, port: int) -> list[str]:
    return _python(
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "5",
    )


def _granian(app: str, port: int) -> list[str]:
    """The gateway's server: granian spends far less CPU per request than uvicorn."""
    return _python(
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        app,
    )


def plan(
    infra: Infra,
    gateway_port: int,
    port_base: int,
    wechat_sim_port: int = WECHAT_SIM_PORT,
    admin: tuple[str, str] = (DEV_ADMIN_USERNAME, DEV_ADMIN_PASSWORD),
    wechatpay_keys: DevKeys | None = None,
) -> list[Child]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMALL_")}
    ports = {s: port_base + i for i, s in enumerate(SERVICES)} if port_base else SERVICE_PORTS
    children = [
        Child(
            "wechat-sim",
            _uvicorn("wechat_sim.main:create_app", wechat_sim_port),
            {
                **base_env,
                **wechat_sim_env(wechat_sim_port),
                **(wechat_sim_pay_env(wechatpay_keys) if wechatpay_keys else {}),
            },
        )
    ]
    member_extra = {
        **member_wechat_env(f"http://127.0.0.1:{wechat_sim_port}"),
        **admin_env(*admin),
    }
    for service in SERVICES:
        env = {
            **base_env,
            **service_env(infra, service, http_port=ports[service]),
            **peer_urls(service, ports),
        }
        if service == "member":
            env.update(member_extra)
        if service == "payment" and wechatpay_keys is not None:
            env.update(
                payment_wechatpay_env(
                    f"http://127.0.0.1:{wechat_sim_port}",
                    wechatpay_keys,
                    notify_url=f"http://127.0.0.1:{gateway_port}/api/v1/payments/wechat/notify",
                    refund_notify_url=(
                        f"http://127.0.0.1:{gateway_port}/api/v1/payments/wechat/refund-notify"
                    ),
                )
            )
        children += [
            Child(f"{service}-http", _uvicorn(f"{service}.main:create_app", ports[service]), env),
            Child(f"{service}-consumer", _python("-m", f"{service}.consumer"), env),
            Child(f"{service}-relay", _python("-m", "shared.relay", service), env),
        ]
        if service == "order":  # flash-sale orders: a consumer group of their own
            children.append(
                Child("order-flash-sale-consumer", _python("-m", "order.flash_sales"), env)
            )
    gateway_env = {
        **base_env,
        "GATEWAY_REDIS_URL": infra.redis_db_url(REDIS_DB["gateway"]),
        "GATEWAY_UPSTREAMS": json.dumps({s: f"http://127.0.0.1:{p}" for s, p in ports.items()}),
    }
    children.append(
        Child("gateway", _granian("gateway.main:create_app", gateway_port), gateway_env)
    )
    return children


def start(children: list[Child]) -> None:
    for child in children:
        child.process = subprocess.Popen(
            child.cmd,
            env=child.env,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # never outlive a killed runner
        )


def stop(children: list[Child], timeout: float = 15.0) -> None:
    running = [c for c in children if c.process and c.process.poll() is None]
    for child in running:
        assert child.process is not None
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


class Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--data-dir", default=os.environ.get("MINIMALL_DATA_DIR", ".data"))
    parser.add_argument(
        "--gateway-port", type=int, default=int(os.environ.get("MINIMALL_GATEWAY_PORT", 8000))
    )
    parser.add_argument(
        "--service-port-base",
        type=int,
        default=int(os.environ.get("MINIMALL_SERVICE_PORT_BASE", 0)),
        help="first of five consecutive service ports (default: 8001-8005)",
    )
    parser.add_argument(
        "--wechat-sim-port",
        type=int,
        default=int(os.environ.get("MINIMALL_WECHAT_SIM_PORT", 0)),
        help=f"the WeChat simulator's port (default {WECHAT_SIM_PORT}, or a free one if taken)",
    )
    args = parser.parse_args()
    sim_port = args.wechat_sim_port or WECHAT_SIM_PORT
    if not args.wechat_sim_port and port_open(sim_port):
        sim_port = free_port()
        print(f"minimall: port {WECHAT_SIM_PORT} is taken, the WeChat simulator uses {sim_port}")
    admin = (
        os.environ.get("ADMIN_USERNAME") or DEV_ADMIN_USERNAME,
        os.environ.get("ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD,
    )
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)

    infra: Infra | None = None
    children: list[Child] = []
    try:
        print("minimall: starting PostgreSQL, Redis and Kafka ...", flush=True)
        infra = start_infra(Path(args.data_dir).resolve())
        print("minimall: migrating ...", flush=True)
        prepare(infra)
        seeded = seed(infra, extra_env=admin_env(*admin))
        print(f"minimall: seeded {', '.join(seeded) or 'nothing yet'}", flush=True)
        keys = wechatpay_dev_keys(Path(args.data_dir).resolve())
        children = plan(
            infra, args.gateway_port, args.service_port_base, sim_port, admin, wechatpay_keys=keys
        )
        start(children)
        gateway = f"http://127.0.0.1:{args.gateway_port}"
        ready = wait_ready(f"{gateway}/readyz/services", timeout=120)
        _print_banner(infra, children, gateway, ready, admin)
        while True:
            for child in children:
                if child.process and child.process.poll() is not None:
                    print(
                        f"minimall: {child.name} exited with {child.process.returncode}", flush=True
                    )
                    child.process = None
            time.sleep(1)
    except Stop:
        print("\nminimall: stopping ...", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(children)
        if infra is not None:
            infra.stop()
        print("minimall: stopped", flush=True)


def _print_banner(
    infra: Infra, children: list[Child], gateway: str, ready: bool, admin: tuple[str, str]
) -> None:
    lines = [
        "",
        f"minimall is {'ready' if ready else 'NOT ready (see the logs above)'}",
        f"  gateway      {gateway}   (readiness: {gateway}/readyz/services)",
    ]
    for child in children:
        if child.name.endswith("-http"):
            port = child.cmd[child.cmd.index("--port") + 1]
            lines.append(f"  {child.name[:-5]:<12} http://127.0.0.1:{port}/docs")
        elif child.name == "wechat-sim":
            port = child.cmd[child.cmd.index("--port") + 1]
            lines.append(
                f"  wechat-sim   http://127.0.0.1:{port}   (codes: POST /sandbox/login-code;"
                " pay: POST /sandbox/pay)"
            )
    lines += [
        f"  staff login  {admin[0]} / {admin[1]}   (POST {gateway}/admin/v1/auth/login;"
        " set ADMIN_USERNAME, ADMIN_PASSWORD)",
        f"  postgres     {infra.postgres_url}",
        f"  redis        {infra.redis_url}",
        f"  kafka        {infra.kafka_bootstrap_servers}",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)
