"""`make run` (python -m devstack run) starts the whole suite; one Ctrl-C stops all of it."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import psutil
from devstack.infra import SERVICES, free_port, port_open
from devstack.stack import DEV_ADMIN_PASSWORD, DEV_ADMIN_USERNAME

from tests.support import LOG_DIR, eventually


async def test_make_run_serves_the_suite_and_ctrl_c_leaves_nothing() -> None:
    gateway_port, sim_port = free_port(), free_port()
    port_base = free_port()
    while any(port_open(port_base + i) for i in range(5)):
        port_base = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMALL_")}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"make-run-{gateway_port}.log"
    # The runner's children inherit its stdout: a file never fills up and blocks them the
    # way an undrained pipe does, and it is there to read when the test fails.
    with (
        tempfile.TemporaryDirectory(prefix="minimall-run-") as data_dir,
        log_path.open("w") as log,
    ):
        runner = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devstack",
                "run",
                "--data-dir",
                data_dir,
                "--gateway-port",
                str(gateway_port),
                "--service-port-base",
                str(port_base),
                "--wechat-sim-port",
                str(sim_port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            gateway = f"http://127.0.0.1:{gateway_port}"
            async with httpx.AsyncClient(base_url=gateway, timeout=5) as client:

                async def suite_ready() -> bool:
                    try:
                        return (await client.get("/readyz/services")).status_code == 200
                    except httpx.TransportError:
                        return False

                # 21 processes start on 2 cores (about 1 min on a quiet machine); the
                # allowance covers a loaded CI machine, it is not a speed check.
                try:
                    await eventually(suite_ready, timeout=240, interval=0.5)
                except AssertionError as exc:
                    raise AssertionError(f"not ready; the runner said:\n{_tail(log_path)}") from exc
                assert (await client.get("/readyz")).json()["status"] == "ready"
                services = (await client.get("/readyz/services")).json()["services"]
                assert services == {s: "ok" for s in SERVICES}

                # Staff sign in with the dev admin; diagnostics are admin-only.
                probes = "/admin/v1/orders/diagnostics/probes"
                assert (await client.post(probes)).status_code == 401
                login = await client.post(
                    "/admin/v1/auth/login",
                    json={"username": DEV_ADMIN_USERNAME, "password": DEV_ADMIN_PASSWORD},
                )
                assert login.status_code == 200, login.text
                staff = {"Authorization": f"Bearer {login.json()['access_token']}"}

                # One event through the gateway: order's outbox -> Kafka -> member's inbox.
                sent = (await client.post(probes, headers=staff)).json()

                async def received() -> bool:
                    r = await client.get(
                        f"/admin/v1/members/diagnostics/probes/{sent['probe_id']}", headers=staff
                    )
                    return r.status_code == 200

                await eventually(received, timeout=60)
                missing = await client.get(
                    f"/admin/v1/members/diagnostics/probes/{uuid.uuid4()}", headers=staff
                )
                assert missing.status_code == 404
                assert missing.json()["error"]["code"] == "not_found"

                # A shopper: wx.login code from the simulator -> member tokens -> the gateway
                # verifies them with member's JWKS and passes the identity on.
                sim = f"http://127.0.0.1:{sim_port}"
                code = (await client.post(f"{sim}/sandbox/login-code", json={})).json()["code"]
                tokens = await client.post("/api/v1/auth/wechat/login", json={"code": code})
                assert tokens.status_code == 200, tokens.text
                bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
                me = await client.get("/api/v1/members/me", headers=bearer)
                assert me.status_code == 200, me.text
                assert me.json()["id"] == tokens.json()["member"]["id"]
                assert (await client.get("/api/v1/members/me")).status_code == 401

            for i, service in enumerate(SERVICES):
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port_base + i}"
                ) as direct:
                    assert (await direct.get("/openapi.json")).json()["info"][
                        "title"
                    ] == f"minimall {service}"
                    assert (await direct.get("/healthz")).status_code == 200
                    assert "http_requests_total" in (await direct.get("/metrics")).text

            tree = psutil.Process(runner.pid).children(recursive=True)
            assert len(tree) >= 17  # 5 x (http, consumer, relay), gateway, simulator, 3 servers
            runner.send_signal(signal.SIGINT)  # Ctrl-C
            await asyncio.to_thread(runner.wait, timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
        banner = log_path.read_text(errors="replace")
        assert runner.returncode == 0, _tail(log_path)
        assert not [p for p in tree if _alive(p)], "processes left behind"
        infra_ports = [int(m) for m in re.findall(r"127\.0\.0\.1:(\d+)", banner)]
        for port in {gateway_port, *range(port_base, port_base + 5), *infra_ports}:
            assert not port_open(port), f"port {port} still bound"


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
