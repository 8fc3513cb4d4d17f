"""Catalog speed, over a generated 10,000-product Chinese catalog, with wrk:

1. Product detail through the gateway (64 connections, the 100 hot products in rotation) against a
   FastAPI hello endpoint behind an identical gateway, in the same run. Target: ≥ 60% of
   the hello's req/s.
2. Search through the gateway at 32 connections, a rotation of 130 queries of every kind
   (Chinese words, pinyin, initials, homophones, Latin typos, filters, sorts). Target: p99
   < 50 ms. Measured with the in-process answer cache (the default) and with it off
   (every request runs the SQL). The cached run starts with every answer expired (the
   warm-up was 20 s before it, the TTL is 5 s): its first pass over the queries all miss.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from devstack.infra import REDIS_DB, Infra, free_port, start_infra
from devstack.stack import create_databases, database_name, migrate, service_env
from shared.db import create_engine

from bench.catalog.data import generate, vocabulary
from bench.wrk import GRANIAN, Result, run_wrk, wait_http

DURATION_S = 10
DETAIL_CONNECTIONS = 64
HOT_PRODUCTS = 100  # shoppers look at the hot products; each one's stock is re-read every 1 s
SEARCH_CONNECTIONS = 32
PREFIX = "b_"
UVICORN = [
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "--no-access-log",
    "--log-level",
    "warning",
    "--no-server-header",
]
SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk(
    name: str, base: str, paths: list[str], connections: int, tmp: Path, seconds: int = DURATION_S
) -> Result:
    script = tmp / f"{abs(hash(name))}.lua"
    script.write_text(SCRIPT % ", ".join(json.dumps(p) for p in paths))
    args = ["-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base]
    return run_wrk(name, args)


def search_paths() -> list[str]:
    paths = []
    sorts = ["relevance", "sales", "price_asc", "newest"]
    for i, q in enumerate(vocabulary()):
        query = {"q": q, "sort": sorts[i % len(sorts)], "page_size": "20"}
        if i % 5 == 0:
            query["in_stock"] = "true"
        if i % 7 == 0:
            query.update(min_price_fen="10000", max_price_fen="200000")
        paths.append("/api/v1/catalog/products?" + urllib.parse.urlencode(query))
    return paths


def gateway_env(infra: Infra, upstream: str) -> dict[str, str]:
    limits = {
        c: {"limit": 1_000_000_000, "period_s": 60}
        for c in ("default", "login", "flash_sale", "notify", "open", "ip")
    }
    return {
        **os.environ,
        "GATEWAY_UPSTREAMS": json.dumps({"catalog": upstream, "member": upstream}),
        "GATEWAY_REDIS_URL": infra.redis_db_url(REDIS_DB["gateway"]),
        "GATEWAY_RATE_LIMITS": json.dumps(limits),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }


def main() -> None:
    if shutil.which("wrk") is None:
        print("catalog  skipped: wrk is not installed (apt-get install wrk)")
        return
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="minimall-catbench-") as tmp_dir:
        tmp = Path(tmp_dir)
        infra = start_infra(tmp / "infra")
        try:
            asyncio.run(create_databases(infra, [database_name("catalog", PREFIX)]))
            migrate(infra, ("catalog",), PREFIX)
            env = service_env(infra, "catalog", db_prefix=PREFIX)
            engine_url = env["CATALOG_DATABASE_URL"]

            async def fill() -> list[str]:
                engine = create_engine(engine_url, pool_size=1)
                try:
                    return [str(i) for i in await generate(engine)]
                finally:
                    await engine.dispose()

            product_ids = asyncio.run(fill())
            ports = {k: free_port() for k in ("catalog", "nocache", "hello", "gw", "gw_hello")}
            quiet = {**os.environ, **env, "CATALOG_LOG_LEVEL": "WARNING"}

            def serve(app: str, port: int, extra: dict[str, str]) -> None:
                procs.append(subprocess.Popen([*UVICORN, app, "--port", str(port)], env=extra))

            serve("catalog.main:create_app", ports["catalog"], quiet)
            serve(
                "catalog.main:create_app",
                ports["nocache"],
                {**quiet, "CATALOG_SEARCH_CACHE_TTL_S": "0"},
            )
            serve("bench.catalog.hello:create_app", ports["hello"], dict(os.environ))
            for gw, upstream in (("gw", "catalog"), ("gw_hello", "hello")):
                procs.append(
                    subprocess.Popen(
                        [*GRANIAN, "--port", str(ports[gw]), "gateway.main:create_app"],
                        env=gateway_env(infra, f"http://127.0.0.1:{ports[upstream]}"),
                    )
                )
            gw, gw_hello = (f"http://127.0.0.1:{ports[k]}" for k in ("gw", "gw_hello"))
            nocache = f"http://127.0.0.1:{ports['nocache']}"
            details = [f"/api/v1/catalog/products/{pid}" for pid in product_ids[:HOT_PRODUCTS]]
            searches = search_paths()
            wait_http(f"{gw}{details[0]}")
            wait_http(f"{gw_hello}/api/v1/catalog/hello")
            wait_http(f"{nocache}{searches[0]}")
            wrk("warm-up", gw, [*details, *searches], SEARCH_CONNECTIONS, tmp, seconds=3)
            # The cacheless process warms up too (connections, prepared statements): it keeps
            # no answers, so its run below still queries for every request.
            wrk("warm-up, no cache", nocache, searches, SEARCH_CONNECTIONS, tmp, seconds=3)
            hello = wrk("hello via gateway", gw_hello, ["/api/v1/catalog/hello"], 64, tmp)
            detail = wrk("detail via gateway", gw, details, DETAIL_CONNECTIONS, tmp)
            cached = wrk("search via gateway", gw, searches, SEARCH_CONNECTIONS, tmp)
            uncached = wrk("search direct, no cache", nocache, searches, SEARCH_CONNECTIONS, tmp)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
            infra.stop()
    print(f"catalog  wrk {DURATION_S}s; 10,000 products; detail -c{DETAIL_CONNECTIONS}")
    for r in (hello, detail):
        figures = f"{r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
        print(f"catalog  {r.name:<26} {figures}   ratio {r.rps / hello.rps:.2f} (target ≥ 0.60)")
    print(f"catalog  search -c{SEARCH_CONNECTIONS}, {len(searches)} queries in rotation")
    for r in (cached, uncached):
        figures = f"{r.rps:8.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
        print(f"catalog  {r.name:<26} {figures}   (target p99 < 50 ms)")
