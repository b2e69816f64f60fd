"""Start the real production server (gunicorn, several worker processes) on the test database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_request(
    base: str, path: str, token: str = "", body: dict | None = None, *, timeout: float = 60
) -> tuple[int, dict]:
    """A JSON request to the server under test, POST with `body` else GET: the status and the
    JSON answer, an error's included."""
    request = urllib.request.Request(  # noqa: S310 — our own local server
        f"{base}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refusal:
        return refusal.code, json.loads(refusal.read())


def test_database_url() -> str:
    """The database the test run is using, as a URL another process can open."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("a second process can only share the test database on PostgreSQL")
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def gunicorn(
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
    port: int | None = None,
    ready_path: str = "/mcp/health",
    ready_within: float = 90,
) -> Iterator[str]:
    """Serve the project with `workers` gunicorn processes (on the test database unless
    `database_url` is given; on a free port unless `port` is); yields the base URL once
    `ready_path` answers 200."""
    port = port or free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url or test_database_url(),
        "DJANGO_SETTINGS_MODULE": "askproai.settings",
        **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
        **(extra_env or {}),
    }
    # A file, not a pipe: nobody reads the server's log while it runs, and a full pipe would
    # block every worker on its next log line.
    log = tempfile.TemporaryFile()  # noqa: SIM115 — closed in the finally below
    process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [
            sys.executable,
            "-m",
            "gunicorn",
            "askproai.wsgi:application",
            "-c",
            "python:askproai.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            # As `make serve`: the request line's length is the app's to judge (a 414 envelope).
            "--limit-request-line",
            "0",
            # gunicorn's control socket is one path per user: parallel test runs would share it.
            "--no-control-socket",
            # A worker's boot counts against its time-out; on a busy machine imports are slow.
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    with _running(
        process, log, "gunicorn", f"http://127.0.0.1:{port}", ready_path, ready_within
    ) as base:
        yield base


@contextmanager
def asgi_server(extra_env: dict[str, str] | None = None, ready_within: float = 90) -> Iterator[str]:
    """Serve the ASGI application (HTTP and WebSocket) with uvicorn on the test database, as
    `make serve-realtime` does; yields the base URL (http://…)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "askproai.settings",
        **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
        **(extra_env or {}),
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 — closed in the finally below
    process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [
            sys.executable,
            "-m",
            "uvicorn",
            "askproai.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            "websockets-sansio",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    with _running(
        process, log, "uvicorn", f"http://127.0.0.1:{port}", "/mcp/health", ready_within
    ) as base:
        yield base


@contextmanager
def _running(
    process: subprocess.Popen[bytes],
    log: Any,
    name: str,
    base: str,
    ready_path: str,
    ready_within: float,
) -> Iterator[str]:
    """Yields `base` once `ready_path` answers (generous: the machine running the suite may be
    busy); stops the server and closes its log afterwards."""
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                with urllib.request.urlopen(f"{base}{ready_path}", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    errors = log.read().decode(errors="replace")
                    raise RuntimeError(f"{name} did not start: {errors[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
