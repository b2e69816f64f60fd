"""Database saturation as a load signal, on PostgreSQL: sessions held busy (one holding an
advisory lock inside a transaction, the others waiting for it) raise the database pressure, so
API clients of flagged tenants are shed, then the admin, while the phone line is answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import time_machine
from django.db import connection

from mcp_core.load import ADMIN, monitor
from mcp_core.management.demo import seed_demo
from mcp_core.models import FlagState
from tests.factories import UserFactory
from tests.integrations.retell_helpers import TEST_KEY, call_object, function, post
from tests.mcp_core.test_load_shedding import NOW, api_get, shedding_flag

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCK = 4_242_017  # the advisory lock the held sessions queue for
WAITERS = 5


def _dsn() -> dict[str, Any]:
    db = connection.settings_dict
    return {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "autocommit": True,
    }


def _busy_sessions() -> int:
    with psycopg.connect(**_dsn()) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def saturated() -> Iterator[None]:
    """One session holds the lock in an open transaction; WAITERS sessions wait for it."""
    holder = psycopg.connect(**_dsn())
    holder.autocommit = False
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
    waiters = [psycopg.connect(**_dsn()) for _ in range(WAITERS)]
    threads = [
        threading.Thread(target=w.execute, args=("SELECT pg_advisory_xact_lock(%s)", [LOCK]))
        for w in waiters
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while _busy_sessions() < WAITERS:
        assert time.monotonic() < deadline, "the waiting sessions never queued"
        time.sleep(0.05)
    try:
        yield
    finally:
        holder.rollback()  # the waiters take the lock one by one and end
        for thread in threads:
            thread.join(timeout=30)
        for session in [holder, *waiters]:
            session.close()


@pytest.fixture
def demo(settings):
    settings.RETELL_API_KEY = TEST_KEY
    with time_machine.travel(NOW, tick=False):
        yield seed_demo()


@pytest.fixture
def db_signal(settings):
    # Six busy sessions over a target of two: pressure 3, past the admin's threshold too.
    settings.LOAD_SHED_DB_SESSIONS_TARGET = 2
    settings.LOAD_SHED_DB_SAMPLE_SECONDS = 0.0
    settings.LOAD_SHED_SLOTS = {"phone": 64, "admin": 4, "api": 16}


def test_a_saturated_database_sheds_api_then_admin_while_the_phone_is_answered(
    client, demo, db_signal, saturated
):
    shedding_flag(state=FlagState.ON)

    shed = api_get(client, demo["api_key"])
    assert shed.status_code == 429
    assert shed.headers["Retry-After"] == "2"
    assert shed.json()["error"]["details"] == {
        "scope": "load",
        "caller": "api",
        "reason": "database",
        "retry_after": 2,
    }

    # The admin keeps one of its four slots: a report running in it leaves none for the next.
    admin = client.__class__()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert admin.get("/admin/").status_code == 200
    held = monitor.try_enter(ADMIN, adaptive=False)
    assert held.admitted
    try:
        refused = admin.get("/admin/")
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["reason"] == "database"

        answer = post(
            client,
            function(
                "check_availability",
                {"service": "Herrenschnitt", "date": "morgen"},
                call_object("call_db_saturated"),
            ),
        )
        assert answer.status_code == 200
        assert "ausgelastet" not in answer.json()["result"]
    finally:
        monitor.leave(ADMIN)

    metrics = client.get("/metrics").content.decode()
    assert 'mcp_requests_shed_total{caller="api",reason="database"}' in metrics
    assert 'mcp_requests_shed_total{caller="admin",reason="database"}' in metrics


def test_with_the_flag_off_a_saturated_database_sheds_no_one(client, demo, db_signal, saturated):
    assert api_get(client, demo["api_key"]).status_code == 200


def test_the_database_pressure_falls_when_the_sessions_end(client, demo, db_signal):
    shedding_flag(state=FlagState.ON)
    holder = psycopg.connect(**_dsn())
    holder.autocommit = False
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
    idle_in_transaction = [psycopg.connect(**_dsn()) for _ in range(WAITERS)]
    for session in idle_in_transaction:
        session.autocommit = False
        session.execute("SELECT 1")  # a transaction left open holds its connection busy
    try:
        assert monitor.database.pressure() >= 2
        assert api_get(client, demo["api_key"]).status_code == 429
    finally:
        for session in [holder, *idle_in_transaction]:
            session.rollback()
            session.close()
    assert monitor.database.pressure() < 1
    assert api_get(client, demo["api_key"]).status_code == 200
