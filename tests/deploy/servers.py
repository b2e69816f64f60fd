"""Servers a test starts for itself on ports of its own: PgBouncer, a PostgreSQL cluster (and its
streaming replica), Redis. The shared PostgreSQL, Redis and RabbitMQ are never stopped."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import postgres_bin
from tests.serving import free_port

# PgBouncer and PostgreSQL refuse to run as root; they run as the postgres user when we are root.
SERVICE_USER = "postgres"


def _as_service_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    assert runuser is not None
    return [runuser, "-u", SERVICE_USER, "--"]


def _owned_tempdir(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVICE_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
    return directory


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def pgbouncer(
    backend_host: str, backend_port: int, pool_mode: str = "transaction"
) -> Iterator[int]:
    """PgBouncer on a free port in front of the given PostgreSQL; yields its port."""
    binary = shutil.which("pgbouncer")
    assert binary is not None
    directory = _owned_tempdir("askproai-pgbouncer-")
    port = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={backend_host} port={backend_port} user={SERVICE_USER}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir =\nauth_type = any\npool_mode = {pool_mode}\n"
        "default_pool_size = 4\nmax_client_conn = 200\nadmin_users = postgres\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
    )
    process = subprocess.Popen(  # noqa: S603 — Debian's pgbouncer, our own config
        [*_as_service_user(), binary, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def pgbouncer_stats(port: int) -> dict[str, int]:
    """SHOW STATS of PgBouncer's admin console, summed over its databases."""
    psql = shutil.which("psql")
    assert psql is not None
    lines = subprocess.run(  # noqa: S603 — psql against our own PgBouncer
        [
            psql,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-AF",
            "\t",
            "-c",
            "SHOW STATS",
            "pgbouncer",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    header = lines[0].split("\t")
    totals: dict[str, int] = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        if "database" not in row or not row.get("total_xact_count", "").isdigit():
            continue
        for key in ("total_xact_count", "total_query_count"):
            totals[key] = totals.get(key, 0) + int(row[key])
    return totals


def _pg(name: str, *args: str, timeout: float = 120) -> str:
    binary = postgres_bin(name)
    assert binary is not None
    return subprocess.run(  # noqa: S603 — PostgreSQL's own tools on our own directories
        [*_as_service_user(), binary, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout


def psql(port: int, sql: str, database: str = "postgres") -> str:
    return _pg("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc", sql, database)


def _start(data: Path, port: int, *settings: str) -> None:
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={data}"]
        + [f"-c {setting}" for setting in settings]
    )
    _pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(data / "server.log"), "-w", "start")


def _stop(data: Path) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # never started, or stopped
        _pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", timeout=60)


@contextmanager
def postgres_cluster() -> Iterator[tuple[int, Path]]:
    """A PostgreSQL cluster of its own (initdb into a temporary directory) on a free port, ready
    to stream to a replica; yields its port and data directory."""
    directory = _owned_tempdir("askproai-pg-")
    data = directory / "primary"
    port = free_port()
    try:
        _pg(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        _start(
            data,
            port,
            "wal_level=replica",
            "max_wal_senders=4",
            "fsync=off",
            "full_page_writes=off",
            "synchronous_commit=off",
        )
        yield port, data
    finally:
        _stop(data)
        shutil.rmtree(directory, ignore_errors=True)


def restart_cluster(data: Path, port: int, down_for: float) -> None:
    """Stop the cluster at `data` (fast: open sessions are cut), keep it down for `down_for`
    seconds, start it again on the same port."""
    _stop(data)
    time.sleep(down_for)
    _start(data, port, "fsync=off", "synchronous_commit=off")


@contextmanager
def streaming_replica(primary_port: int) -> Iterator[int]:
    """A hot standby of the cluster on `primary_port` (pg_basebackup -R), on its own port."""
    directory = _owned_tempdir("askproai-replica-")
    data = directory / "replica"
    port = free_port()
    try:
        _pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary_port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
        )
        _start(data, port, "hot_standby=on", "fsync=off")
        yield port
    finally:
        _stop(data)
        shutil.rmtree(directory, ignore_errors=True)


def wait_for_replay(primary_port: int, replica_port: int, timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    target = psql(primary_port, "SELECT pg_current_wal_lsn()").strip()
    deadline = time.monotonic() + timeout
    query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
    while psql(replica_port, query).strip() != "t":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica did not reach {target}")
        time.sleep(0.2)


class RedisServer:
    """A redis-server of the test's own on a fixed free port, to stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary is not None
        self._process = subprocess.Popen(  # noqa: S603 — Debian's redis-server
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()  # an outage, not a shutdown
            self._process.wait(timeout=10)
