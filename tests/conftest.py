"""Shared fixtures and the rules for PostgreSQL/Redis-only tests.

Tests marked `postgres` or `redis` skip with a reason on the embedded defaults. When
ASKPROAI_REQUIRE_SERVICES=1 (CI's PostgreSQL+Redis run) such a test that would skip fails
instead, so CI can never pass while silently skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_SERVICES = os.environ.get("ASKPROAI_REQUIRE_SERVICES") == "1"


def _missing(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://…"
    if marker == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://…"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in ("postgres", "redis"):
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
    cache.clear()
    yield
    cache.clear()
