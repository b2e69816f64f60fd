"""The web processes behind PgBouncer in transaction mode (Debian's 1.18, which cannot carry
prepared statements): with DATABASE_PREPARED_STATEMENTS=false and
DISABLE_SERVER_SIDE_CURSORS=true bookings race correctly through four server connections."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from bookings.models import Appointment
from tests.bookings.test_booking_service import booking_args, make_world
from tests.deploy.servers import pgbouncer, pgbouncer_stats
from tests.factories import ApiKeyFactory
from tests.serving import api_request, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.pgbouncer, pytest.mark.django_db(transaction=True)]

BEHIND_PGBOUNCER = {
    "DATABASE_PREPARED_STATEMENTS": "false",
    "DISABLE_SERVER_SIDE_CURSORS": "true",
    "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650",  # the world books a fixed Monday in 2027
}


def test_bookings_through_pgbouncer_in_transaction_mode():
    world = make_world()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    db = connection.settings_dict
    host, port = db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)
    same_slot = booking_args(world, staff_id=world.anna.pk, start_time="2027-03-08T10:00:00")
    day_slots = [
        booking_args(world, staff_id=world.ben.pk, start_time=f"2027-03-08T{hour:02d}:00:00")
        for hour in range(9, 17)
    ]

    with pgbouncer(host, port) as bouncer_port:
        url = f"postgres://postgres@127.0.0.1:{bouncer_port}/{db['NAME']}"
        with (
            gunicorn(workers=3, database_url=url, extra_env=BEHIND_PGBOUNCER) as base,
            ThreadPoolExecutor(max_workers=12) as pool,
        ):
            race = list(
                pool.map(
                    lambda _: api_request(
                        base, "/api/v2/mcp/bookings", token, same_slot, timeout=30
                    ),
                    range(12),
                )
            )
            spread = list(
                pool.map(
                    lambda body: api_request(base, "/api/v2/mcp/bookings", token, body, timeout=30),
                    day_slots,
                )
            )
        stats = pgbouncer_stats(bouncer_port)

    statuses = sorted(status for status, _ in race)
    assert statuses == [201] + [409] * 11
    assert {body["error"]["type"] for status, body in race if status == 409} == {"CONFLICT"}
    assert [status for status, _ in spread] == [201] * len(day_slots)
    assert Appointment.objects.all_tenants().filter(staff=world.anna).count() == 1
    assert Appointment.objects.all_tenants().filter(staff=world.ben).count() == len(day_slots)
    # The traffic went through the pooler: many more transactions than its 4 server connections.
    assert stats["total_xact_count"] > 100
