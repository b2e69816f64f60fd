"""Chaos: PostgreSQL (a cluster of the test's own, never the shared one) is restarted while
bookings flow through gunicorn. Requests during the outage get a clean 503 SERVICE_UNAVAILABLE
envelope (never a 500), the server recovers without a restart, every booking answered 201
exists exactly once, and each refused one, retried with its idempotency key, books once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from tests.deploy.servers import postgres_cluster, psql, restart_cluster
from tests.serving import ROOT, api_request, gunicorn

pytestmark = pytest.mark.pg_server

DAYS = ["2027-03-08", "2027-03-09", "2027-03-10", "2027-03-11", "2027-03-12"]
# Every half hour from 09:00 to 16:30 but 12:30, the staff members' break (tests/factories.py).
TIMES = [
    f"{hour:02d}:{minute:02d}"
    for hour in range(9, 17)
    for minute in (0, 30)
    if (hour, minute) != (12, 30)
]


@dataclass
class Answer:
    key: str
    at: float
    status: int
    body: dict


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 — our own interpreter and scripts
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bookings_during_a_postgresql_restart_get_503_and_nothing_is_lost_or_doubled():
    with postgres_cluster() as (port, data):
        psql(port, "CREATE DATABASE askproai")
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}},
            "DJANGO_SETTINGS_MODULE": "askproai.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/askproai",
            "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650",
        }
        _run(env, "manage.py", "migrate", "--noinput", "-v", "0")
        world = json.loads(_run(env, "-m", "tests.deploy.chaos_script", "seed"))
        requests = {
            f"chaos-{day}-{time_}-{staff}": {
                "service_id": world["service_id"],
                "branch_id": world["branch_id"],
                "staff_id": staff,
                "start_time": f"{day}T{time_}:00",
                "customer_phone": "030 1234567",
                "idempotency_key": f"chaos-{day}-{time_}-{staff}",
            }
            for day in DAYS
            for time_ in TIMES
            for staff in world["staff_ids"]
        }
        pending = list(requests)
        answers: list[Answer] = []
        lock, stop = threading.Lock(), threading.Event()

        def client() -> None:
            while not stop.is_set():
                with lock:
                    if not pending:
                        return
                    key = pending.pop(0)
                status, body = api_request(
                    base, "/api/v2/mcp/bookings", world["token"], requests[key]
                )
                with lock:
                    answers.append(Answer(key, time.monotonic(), status, body))
                # A client backs off on a refusal, as the 503 asks; without it the outage's
                # instant refusals would use up every slot before PostgreSQL is back.
                time.sleep(0.5 if status == 503 else 0.05)

        def created() -> int:
            with lock:
                return sum(answer.status == 201 for answer in answers)

        with gunicorn(
            workers=2, database_url=env["DATABASE_URL"], extra_env=env, ready_within=300
        ) as base:
            threads = [threading.Thread(target=client) for _ in range(4)]
            for thread in threads:
                thread.start()
            while created() < 8:
                time.sleep(0.1)
            outage_began = time.monotonic()
            stopped = threading.Thread(target=restart_cluster, args=(data, port, 3.0))
            stopped.start()
            time.sleep(1.5)  # PostgreSQL is down now
            live_during = api_request(base, "/livez")[0]
            health_during = api_request(base, "/mcp/health")
            stopped.join()
            outage_ended = time.monotonic()
            before_recovery = created()
            deadline = time.monotonic() + 120
            while created() < before_recovery + 8 and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            for thread in threads:
                thread.join()
            health_after = api_request(base, "/mcp/health")
            # Every refused booking is retried by its client with the same idempotency key.
            refused = [answer for answer in answers if answer.status != 201]
            retried = [
                api_request(base, "/api/v2/mcp/bookings", world["token"], requests[answer.key])
                for answer in refused
            ]
        stored = psql(
            port,
            "SELECT idempotency_key, count(*) FROM bookings_appointment "
            "WHERE status = 'confirmed' GROUP BY 1",
            "askproai",
        )

    booked = dict(line.split("|") for line in stored.split())
    statuses = {answer.status for answer in answers}
    during = [answer for answer in answers if outage_began <= answer.at <= outage_ended + 5]
    odd = [answer for answer in answers if answer.status not in {201, 503}]
    assert statuses <= {201, 503}, odd  # never a 500
    assert any(answer.status == 503 for answer in during)
    for answer in answers:
        if answer.status == 503:
            assert answer.body["error"]["type"] == "SERVICE_UNAVAILABLE"
    # The server came back by itself: bookings after the restart succeed.
    assert created() >= before_recovery + 8
    assert live_during == 200
    assert health_during[0] == 503 and health_during[1]["status"] == "down"
    assert health_after[0] == 200
    # Each booking answered 201 exists exactly once; each retried one was booked (or found)
    # once, and nothing else was written.
    assert {status for status, _ in retried} <= {200, 201}, retried
    answered = {answer.key for answer in answers}
    assert set(booked) == answered
    assert set(booked.values()) == {"1"}
