"""Reporting reads go to a real streaming replica; booking reads and every write stay on the
primary. The test starts both servers itself (initdb, pg_basebackup -R, ports of their own),
pauses the replica's replay and shows which side each read came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.deploy.servers import (
    postgres_cluster,
    psql,
    streaming_replica,
    wait_for_replay,
)
from tests.serving import ROOT

pytestmark = pytest.mark.pg_server


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 — our own interpreter and scripts
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_reporting_reads_come_from_the_replica_and_booking_reads_from_the_primary():
    with postgres_cluster() as (primary, _), streaming_replica(primary) as replica:
        psql(primary, "CREATE DATABASE askproai")
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}},
            "DJANGO_SETTINGS_MODULE": "askproai.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary}/askproai",
            "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{replica}/askproai",
        }
        script = ("-m", "tests.deploy.replica_script")
        _run(env, "manage.py", "migrate", "--noinput", "-v", "0")
        tenant_id = json.loads(_run(env, *script, "seed"))["tenant_id"]
        wait_for_replay(primary, replica)

        psql(replica, "SELECT pg_wal_replay_pause()")
        lagging = json.loads(_run(env, *script, "report", str(tenant_id)))
        psql(replica, "SELECT pg_wal_replay_resume()")
        wait_for_replay(primary, replica)
        caught_up = json.loads(_run(env, *script, "report", str(tenant_id)))
        # Nothing was ever written to the standby (it is read-only): both sides agree now.
        replica_calls = psql(replica, "SELECT count(*) FROM routing_calllog", "askproai")

    # The replica is paused before the second call and appointment: reporting reads miss them.
    assert lagging == {
        "calls_reported": 1,
        "calls_on_primary": 2,
        "appointments_reported": 1,
        "appointments_on_primary": 2,
    }
    # After replay they are there; this report's own writes are again only on the primary.
    assert caught_up["calls_on_primary"] == 3
    assert caught_up["calls_reported"] in {2, 3}
    assert caught_up["appointments_on_primary"] == 3
    assert int(replica_calls.strip()) == 3
