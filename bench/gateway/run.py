"""Gateway speed: the hello service directly, nginx in front of it, and the gateway in front of
it with JWT verification and Redis rate limiting on. wrk, 64 connections, like the brief's
figures. Prints req/s, p50 and p99 for each and the ratios to nginx (target: the gateway at
≥ 75% of nginx's req/s with p99 ≤ 2x nginx's).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from devstack.infra import free_port, start_infra

from bench.wrk import GRANIAN, Result, run_wrk, wait_http

DURATION_S = 10
CONNECTIONS = 64
PATH = "/api/v1/orders/hello"
# One worker per pod, as the Helm chart runs it (scale out with replicas).
GATEWAY_WORKERS = int(os.environ.get("BENCH_GATEWAY_WORKERS", "1"))


def wrk(name: str, url: str, headers: dict[str, str]) -> Result:
    args = ["-t2", f"-c{CONNECTIONS}", f"-d{DURATION_S}s"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    return run_wrk(name, [*args, url])


NGINX_CONF = """
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream hello {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def main() -> None:
    if shutil.which("wrk") is None:
        print("gateway  skipped: wrk is not installed (apt-get install wrk)")
        return
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="minimall-gwbench-") as tmp:
        infra = start_infra(Path(tmp) / "infra")
        try:
            key = Ed25519PrivateKey.generate()
            kid = uuid.uuid4().hex[:8]
            import jwt
            from jwt.algorithms import OKPAlgorithm

            jwk = {**json.loads(OKPAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "EdDSA"}
            jwks_file = Path(tmp) / "jwks.json"
            jwks_file.write_text(json.dumps({"keys": [jwk]}))
            now = int(time.time())
            token = jwt.encode(
                {
                    "sub": str(uuid.uuid4()),
                    "aud": "minimall-api",
                    "iss": "minimall-member",
                    "iat": now,
                    "exp": now + 3600,
                },
                key,
                algorithm="EdDSA",
                headers={"kid": kid},
            )
            auth = {"Authorization": f"Bearer {token}"}
            env = {**os.environ, "BENCH_JWKS_FILE": str(jwks_file)}
            hello_port, gw_port = free_port(), free_port()
            uvicorn = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "--no-access-log",
                "--log-level",
                "warning",
                "--no-proxy-headers",
                "--no-server-header",
            ]
            procs.append(
                subprocess.Popen(
                    [*uvicorn, "bench.gateway.hello:create_app", "--port", str(hello_port)], env=env
                )
            )
            hello = f"http://127.0.0.1:{hello_port}"
            limits = {
                c: {"limit": 1_000_000_000, "period_s": 60}
                for c in ("default", "login", "flash_sale", "notify", "open", "ip")
            }
            gw_env = {
                **env,
                "GATEWAY_UPSTREAMS": json.dumps(
                    {s: hello for s in ("catalog", "order", "member", "marketing", "payment")}
                ),
                "GATEWAY_REDIS_URL": infra.redis_db_url(0),
                "GATEWAY_RATE_LIMITS": json.dumps(limits),
                "GATEWAY_LOG_LEVEL": "WARNING",
            }
            procs.append(
                subprocess.Popen(
                    [
                        *GRANIAN,
                        "--port",
                        str(gw_port),
                        "--workers",
                        str(GATEWAY_WORKERS),
                        "gateway.main:create_app",
                    ],
                    env=gw_env,
                )
            )
            wait_http(hello + PATH)
            wait_http(f"http://127.0.0.1:{gw_port}{PATH}", auth)
            results = [wrk("service directly", hello + PATH, {})]
            nginx = None
            if shutil.which("nginx"):
                nginx_port = free_port()
                conf = Path(tmp) / "nginx.conf"
                conf.write_text(NGINX_CONF.format(dir=tmp, upstream=hello_port, port=nginx_port))
                procs.append(subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"]))
                wait_http(f"http://127.0.0.1:{nginx_port}{PATH}")
                nginx = wrk("nginx in front", f"http://127.0.0.1:{nginx_port}{PATH}", {})
                results.append(nginx)
            else:
                print(
                    "gateway  nginx skipped: nginx is not installed (apt-get install nginx-light)"
                )
            gateway = wrk("gateway (JWT + rate limit)", f"http://127.0.0.1:{gw_port}{PATH}", auth)
            results.append(gateway)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
            infra.stop()
    base = nginx or results[0]
    setup = f"wrk -c{CONNECTIONS} {DURATION_S}s, gateway {GATEWAY_WORKERS} workers"
    print(f"gateway  {setup}; ratios vs {base.name}")
    for r in results:
        figures = f"{r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
        ratios = f"req/s x{r.rps / base.rps:.2f}  p99 x{r.p99_ms / base.p99_ms:.2f}"
        print(f"gateway  {r.name:<28} {figures}   {ratios}")
