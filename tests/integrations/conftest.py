"""Cal.com as the calendar backend, against the local fake (tests/fakes/calcom.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bookings import calendar
from integrations.models import CalcomAccount, CalcomEventType
from tests.bookings.test_booking_service import World, make_world
from tests.fakes.calcom import FakeCalcom

EVENT_TYPE_ID = 7
WEBHOOK_SECRET = "whsec_calcom_test"


@pytest.fixture
def fake_calcom() -> Iterator[FakeCalcom]:
    fake = FakeCalcom(event_types={EVENT_TYPE_ID: "damenhaarschnitt-30", 8: "andere"}).start()
    yield fake
    fake.delay = 0.0
    fake.stop()


@dataclass
class CalcomWorld:
    world: World
    fake: FakeCalcom
    account: CalcomAccount
    event_type: CalcomEventType


def connect_calcom(
    world: World, fake: FakeCalcom, event_type_id: int = EVENT_TYPE_ID
) -> tuple[CalcomAccount, CalcomEventType]:
    account = CalcomAccount.objects.create(
        tenant=world.tenant, api_key=fake.api_key, api_url=fake.url, webhook_secret=WEBHOOK_SECRET
    )
    event_type = CalcomEventType.objects.create(
        tenant=world.tenant, service=world.service, event_type_id=event_type_id, staff=world.anna
    )
    return account, event_type


@pytest.fixture
def calcom(fake_calcom: FakeCalcom, settings) -> CalcomWorld:
    """The booking tests' world with Cal.com configured for its tenant (its own key, the
    service mapped to event type 7, bookings made in Cal.com blocking Anna)."""
    settings.CALENDAR_BACKEND = "calcom"
    settings.CALCOM_API_KEY = ""
    settings.CALCOM_API_URL = "http://127.0.0.1:9"  # never used: the account has its own URL
    settings.CALCOM_WEBHOOK_SECRET = WEBHOOK_SECRET
    calendar.reset_backends()
    world = make_world()
    account, event_type = connect_calcom(world, fake_calcom)
    return CalcomWorld(world, fake_calcom, account, event_type)
