"""Chaos: Redis (a server of the test's own, never the shared one) dies under a running
gunicorn and comes back. Bookings go on throughout, health says `degraded` meanwhile, and
nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bookings.models import Appointment
from tests.bookings.test_booking_service import booking_args, make_world
from tests.deploy.servers import RedisServer
from tests.factories import ApiKeyFactory
from tests.serving import api_request, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def test_bookings_go_on_while_redis_is_down_and_after_it_is_back(redis_server):
    world = make_world()
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    env = {"REDIS_URL": redis_server.url, "MCP_BOOKING_MAX_ADVANCE_DAYS": "3650"}

    def book(hour: int) -> int:
        args = booking_args(world, start_time=f"2027-03-08T{hour:02d}:00:00")
        return api_request(base, "/api/v2/mcp/bookings", token, args)[0]

    with gunicorn(workers=2, extra_env=env) as base:
        before = book(9)
        healthy = api_request(base, "/mcp/health")
        redis_server.stop()
        during = [book(10), book(11)]
        degraded = api_request(base, "/mcp/health")
        redis_server.start()
        after = book(13)
        recovered = api_request(base, "/mcp/health")

    assert (before, during, after) == (201, [201, 201], 201)
    assert (healthy[0], healthy[1]["status"]) == (200, "ok")
    assert (degraded[0], degraded[1]["status"]) == (200, "degraded")
    assert degraded[1]["checks"]["cache"]["status"] == "down"
    assert (recovered[0], recovered[1]["status"]) == (200, "ok")
    starts = sorted(
        appointment.start_time.hour
        for appointment in Appointment.objects.all_tenants().filter(tenant=world.tenant)
    )
    assert starts == [8, 9, 10, 12]  # UTC: 09, 10, 11 and 13 o'clock Berlin (CET)
