import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from tests.factories import AppointmentFactory, ServiceFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2031, 3, 4, hour, minute, tzinfo=dt.UTC)


def _book(staff, start: dt.datetime, minutes: int = 60, **kwargs) -> Appointment:
    return AppointmentFactory(
        staff=staff, start_time=start, end_time=start + dt.timedelta(minutes=minutes), **kwargs
    )


@pytest.mark.postgres
def test_overlapping_active_appointment_of_same_staff_is_refused_by_the_database():
    staff = StaffFactory()
    _book(staff, _at(10))

    with pytest.raises(IntegrityError, match="appointment_no_staff_overlap"), transaction.atomic():
        _book(staff, _at(10, 30))

    assert Appointment.objects.all_tenants().filter(staff=staff).count() == 1


@pytest.mark.postgres
def test_pending_appointment_blocks_as_well():
    staff = StaffFactory()
    _book(staff, _at(10), status=AppointmentStatus.PENDING)

    with pytest.raises(IntegrityError), transaction.atomic():
        _book(staff, _at(10, 15), status=AppointmentStatus.CONFIRMED)

    assert Appointment.objects.all_tenants().filter(staff=staff).count() == 1


@pytest.mark.postgres
def test_cancelled_appointment_does_not_block_the_slot():
    staff = StaffFactory()
    _book(staff, _at(10), status=AppointmentStatus.CANCELLED)

    second = _book(staff, _at(10))

    assert second.pk is not None
    assert list(
        Appointment.objects.all_tenants()
        .filter(staff=staff)
        .values_list("status", flat=True)
        .order_by("status")
    ) == ["cancelled", "confirmed"]


@pytest.mark.postgres
def test_cancelling_frees_the_slot_and_reactivating_an_overlap_is_refused():
    staff = StaffFactory()
    first = _book(staff, _at(10))
    first.status = AppointmentStatus.CANCELLED
    first.save()
    _book(staff, _at(10, 30))

    first.status = AppointmentStatus.CONFIRMED
    with pytest.raises(IntegrityError), transaction.atomic():
        first.save()


@pytest.mark.postgres
def test_back_to_back_and_other_staff_are_allowed():
    staff, other = StaffFactory(), StaffFactory()
    _book(staff, _at(10))

    _book(staff, _at(11))
    _book(staff, _at(9))
    _book(other, _at(10))

    assert Appointment.objects.all_tenants().filter(staff=staff).count() == 3


@pytest.mark.postgres
def test_buffers_are_part_of_the_occupied_time():
    staff = StaffFactory()
    service = ServiceFactory(tenant=staff.tenant, duration_minutes=60, buffer_after_minutes=15)
    _book(staff, _at(10), service=service)

    with pytest.raises(IntegrityError), transaction.atomic():
        _book(staff, _at(11, 0), service=ServiceFactory(tenant=staff.tenant))

    _book(staff, _at(11, 15), service=ServiceFactory(tenant=staff.tenant))
    assert Appointment.objects.all_tenants().filter(staff=staff).count() == 2


def test_end_must_be_after_start():
    staff = StaffFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        _book(staff, _at(10), minutes=0)
    assert Appointment.objects.all_tenants().count() == 0


def test_idempotency_key_is_unique_per_tenant_only():
    first = AppointmentFactory(idempotency_key="abc")
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(
            staff=StaffFactory(branch=first.branch),
            idempotency_key="abc",
            start_time=first.start_time + dt.timedelta(days=1),
            end_time=first.end_time + dt.timedelta(days=1),
        )
    other_tenant = AppointmentFactory(idempotency_key="abc")

    assert other_tenant.tenant_id != first.tenant_id
    assert Appointment.objects.all_tenants().filter(idempotency_key="abc").count() == 2


def test_appointments_without_idempotency_key_do_not_collide():
    first = AppointmentFactory(idempotency_key=None)
    AppointmentFactory(staff=StaffFactory(branch=first.branch), idempotency_key=None)
    assert Appointment.objects.all_tenants().filter(tenant=first.tenant).count() == 2


def test_confirmation_numbers_are_unique():
    first = AppointmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(confirmation_number=first.confirmation_number)
