"""Shared fixtures and the rules for PostgreSQL/Redis-only tests.

Tests marked `postgres` or `redis` skip with a reason on the embedded defaults. When
ASKPROAI_REQUIRE_SERVICES=1 (CI's PostgreSQL+Redis run) such a test that would skip fails
instead, so CI can never pass while silently skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_SERVICES = os.environ.get("ASKPROAI_REQUIRE_SERVICES") == "1"
INSPECTOR_IN_REPO = (
    Path(__file__).resolve().parent.parent / ".ci/node/node_modules/.bin/mcp-inspector"
)

MCP_SERVERS_IN_REPO = Path(__file__).resolve().parent.parent / ".ci/node/node_modules/.bin"


def mcp_servers_bin() -> Path | None:
    """Where the federation's npm MCP servers are installed (MCP_SERVERS_BIN elsewhere)."""
    configured = os.environ.get("MCP_SERVERS_BIN")
    directory = Path(configured) if configured else MCP_SERVERS_IN_REPO
    if (directory / "mcp-server-memory").exists() and shutil.which("node"):
        return directory
    return None


def inspector_binary() -> str | None:
    configured = os.environ.get("MCP_INSPECTOR")
    if configured:
        return configured
    if INSPECTOR_IN_REPO.exists() and shutil.which("node"):
        return str(INSPECTOR_IN_REPO)
    return None


def chromium_binary() -> str | None:
    configured = os.environ.get("CHROMIUM")
    return configured or shutil.which("chromium") or shutil.which("chromium-browser")


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server binary (initdb, pg_ctl, pg_basebackup): Debian keeps them off PATH."""
    configured = os.environ.get("PG_BINDIR")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


def chromedriver_binary() -> str | None:
    return os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")


def _missing(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://…"
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://…"
    if marker == "inspector" and inspector_binary() is None:
        return "needs Node and MCP Inspector: .ci/run installs it, or set MCP_INSPECTOR"
    if marker == "mcp_servers" and mcp_servers_bin() is None:
        return "needs Node and the npm MCP servers: .ci/run installs them, or set MCP_SERVERS_BIN"
    if marker == "chromium" and chromium_binary() is None:
        return "needs headless Chromium: .ci/run installs Debian's chromium, or set CHROMIUM"
    if marker == "kubectl" and shutil.which("kubectl") is None:
        return "needs kubectl (its built-in kustomize renders deploy/)"
    if marker == "pgbouncer" and shutil.which("pgbouncer") is None:
        return "needs PgBouncer: .ci/run installs Debian's pgbouncer"
    if marker == "promtool" and shutil.which("promtool") is None:
        return "needs promtool: .ci/run installs Debian's prometheus"
    if marker == "pg_server" and postgres_bin("pg_basebackup") is None:
        return "needs PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup)"
    if marker == "rabbitmq" and not os.environ.get("RABBITMQ_URL"):
        return "needs RabbitMQ: set RABBITMQ_URL=amqp://…/<own vhost>"
    if marker == "webdriver" and (chromium_binary() is None or chromedriver_binary() is None):
        return "needs Chromium and chromedriver: .ci/run installs Debian's chromium-driver"
    return None


MARKERS = (
    "postgres",
    "redis",
    "inspector",
    "chromium",
    "kubectl",
    "pgbouncer",
    "promtool",
    "pg_server",
    "rabbitmq",
    "mcp_servers",
    "webdriver",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in MARKERS:
            if item.get_closest_marker(marker) is None:
                continue
            reason = _missing(marker)
            if reason is None:
                continue
            if REQUIRE_SERVICES:
                raise pytest.UsageError(
                    f"{item.nodeid} {reason}, but ASKPROAI_REQUIRE_SERVICES=1 forbids skipping"
                )
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Each test starts with an empty cache, no rate-limit counts, closed breakers and no
    remembered API keys."""
    from mcp_core.breakers import reset_breakers
    from mcp_core.events import forget_endpoints
    from mcp_core.flags import forget_flags
    from mcp_core.load import reset_load
    from mcp_core.ratelimit import reset_local_counts
    from mcp_core.shedding import refused_keys
    from tenants.authentication import forget_checked_keys

    cache.clear()
    reset_local_counts()
    reset_breakers()
    forget_checked_keys()
    forget_endpoints()
    forget_flags()
    reset_load()
    refused_keys.clear()
    yield
    cache.clear()
    reset_local_counts()
    forget_checked_keys()
    forget_flags()
    reset_load()


@pytest.fixture
def mcp_servers() -> Path:
    directory = mcp_servers_bin()
    assert directory is not None
    return directory


@pytest.fixture
def mcp_inspector() -> str:
    binary = inspector_binary()
    assert binary is not None
    return binary
