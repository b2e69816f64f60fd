"""booking.processPhoneBooking: the caller by number, the service by what they said, the slot
booked or the nearest alternatives offered (through the orchestrator, as Retell calls it)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings import notifications
from bookings.enums import AppointmentSource
from bookings.models import Appointment, Customer
from mcp_core.auth import Principal
from mcp_core.management.demo import seed_demo
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from tenants.models import Branch, Company

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # Monday
TUESDAY_10 = "2026-11-24T10:00:00"


@pytest.fixture
def demo():
    notifications.sent_messages.clear()
    with time_machine.travel(NOW, tick=False):
        seed_demo()
        yield Company.objects.get(slug="salon-sonnenschein")
    notifications.sent_messages.clear()


def _berlin(tenant):
    return Branch.objects.all_tenants().get(tenant=tenant, name="Berlin Mitte")


def _book(tenant, **args):
    principal = Principal.system(tenant, "retell", Role.STAFF)
    return execute_named(principal, "booking.processPhoneBooking", args, source="phone")


def test_books_for_a_new_caller_by_number_and_spoken_service(demo):
    result = _book(
        demo,
        caller_phone="0157 90001234",
        branch_id=_berlin(demo).pk,
        start_time=TUESDAY_10,
        service="herren haarschnitt",
        customer_name="Max Mustermann",
        call_id="call_1",
    )
    assert result.ok, result.error
    data = result.data
    assert data["booked"] is True
    assert data["service"]["name"] == "Herrenhaarschnitt"
    assert data["appointment"]["start_time"] == "2026-11-24T10:00:00+01:00"
    assert data["alternatives"] == [] and data["refusal"] is None
    appointment = Appointment.objects.all_tenants().get(pk=data["appointment"]["id"])
    assert (appointment.call_id, appointment.source) == ("call_1", AppointmentSource.PHONE)
    customer = Customer.objects.all_tenants().get(tenant=demo, phone="+4915790001234")
    assert customer.name == "Max Mustermann" and appointment.customer == customer
    assert data["notifications_sent"] == ["sms"]
    [sms] = [m for m in notifications.sent_messages if m.to == "+4915790001234"]
    assert data["confirmation_number"] in sms.body


def test_a_known_caller_is_matched_by_number_not_created_again(demo):
    customers = Customer.objects.all_tenants().count()
    result = _book(
        demo,
        caller_phone="0151 12345678",  # Maria Hoffmann, national format
        branch_id=_berlin(demo).pk,
        start_time=TUESDAY_10,
        service="Färben",
        customer_name="Somebody Else",
    )
    assert result.ok, result.error
    appointment = Appointment.objects.all_tenants().get(pk=result.data["appointment"]["id"])
    assert appointment.customer.name == "Maria Hoffmann"  # a known name is not overwritten
    assert Customer.objects.all_tenants().count() == customers


def test_a_taken_time_offers_the_nearest_free_ones_and_writes_nothing(demo):
    branch = _berlin(demo)
    first = _book(
        demo,
        caller_phone="+4915790001234",
        branch_id=branch.pk,
        start_time=TUESDAY_10,
        service="Bart",
        staff="Ben",
    )
    assert first.data["booked"] is True
    appointments, customers = (
        Appointment.objects.all_tenants().count(),
        Customer.objects.all_tenants().count(),
    )
    second = _book(
        demo,
        caller_phone="+4915790009999",
        branch_id=branch.pk,
        start_time=TUESDAY_10,
        service="Bartpflege",
        staff="Ben Müller",
    )
    assert second.ok, second.error
    assert second.data["booked"] is False
    assert second.data["appointment"] is None and second.data["confirmation_number"] is None
    assert second.data["refusal"]
    starts = [slot["start"] for slot in second.data["alternatives"]]
    # Ben is busy 10:00–10:20: 9:30 and 10:30 are nearest, then 9:00 wins the tie with 11:00
    # by being earlier; read out in time order.
    assert starts == [
        "2026-11-24T09:00:00+01:00",
        "2026-11-24T09:30:00+01:00",
        "2026-11-24T10:30:00+01:00",
    ]
    assert {slot["staff_id"] for slot in second.data["alternatives"]} == {first.data["staff"]["id"]}
    assert (Appointment.objects.all_tenants().count(), Customer.objects.all_tenants().count()) == (
        appointments,
        customers,
    )


def test_a_closed_day_offers_the_next_open_days(demo):
    result = _book(
        demo,
        caller_phone="+4915790001234",
        branch_id=_berlin(demo).pk,
        start_time="2026-11-29T10:00:00",  # Sunday
        service="Herrenhaarschnitt",
    )
    assert result.data["booked"] is False
    starts = [slot["start"] for slot in result.data["alternatives"]]
    assert starts == [
        "2026-11-30T09:00:00+01:00",
        "2026-11-30T09:30:00+01:00",
        "2026-11-30T10:00:00+01:00",
    ]


def test_the_same_idempotency_key_books_once(demo):
    args = {
        "caller_phone": "+4915790001234",
        "branch_id": _berlin(demo).pk,
        "start_time": TUESDAY_10,
        "service": "Herrenschnitt",
        "idempotency_key": "retell:call_1:abc",
    }
    first, again = _book(demo, **args), _book(demo, **args)
    assert first.data["appointment"]["id"] == again.data["appointment"]["id"]
    assert Appointment.objects.all_tenants().filter(customer__phone="+4915790001234").count() == 1
    assert len([m for m in notifications.sent_messages if m.to == "+4915790001234"]) == 1


@pytest.mark.parametrize(
    ("args", "error_type", "field"),
    [
        ({"service": None}, "VALIDATION_FAILED", None),
        ({"caller_phone": "not a number"}, "VALIDATION_FAILED", "caller_phone"),
        ({"service": "Massage"}, "RESOURCE_NOT_FOUND", None),
        ({"service": "Haarschnitt"}, "RESOURCE_NOT_FOUND", None),  # Damen- or Herren-?
        ({"staff": "Zoe"}, "RESOURCE_NOT_FOUND", None),
        ({"branch_id": 999_999}, "RESOURCE_NOT_FOUND", None),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(demo, args, error_type, field):
    appointments, customers = (
        Appointment.objects.all_tenants().count(),
        Customer.objects.all_tenants().count(),
    )
    request = {
        "caller_phone": "+4915790001234",
        "branch_id": _berlin(demo).pk,
        "start_time": TUESDAY_10,
        "service": "Herrenschnitt",
        **args,
    }
    result = _book(demo, **{k: v for k, v in request.items() if v is not None})
    assert result.error is not None
    assert result.error.error_type.name == error_type
    if field:
        assert field in result.error.details
    assert (Appointment.objects.all_tenants().count(), Customer.objects.all_tenants().count()) == (
        appointments,
        customers,
    )


def test_another_tenants_branch_is_not_found(demo):
    from tests.factories import CompanyFactory

    other = CompanyFactory()
    result = _book(
        other,
        caller_phone="+4915790001234",
        branch_id=_berlin(demo).pk,
        start_time=TUESDAY_10,
        service_id=1,
    )
    assert result.error is not None and result.error.error_type.name == "RESOURCE_NOT_FOUND"
    assert not Appointment.objects.all_tenants().filter(tenant=other).exists()
