"""No double booking, whatever the concurrency (docs/contract.md).

On PostgreSQL the callers really race: threads with their own connections released together by
a barrier, through the orchestrator. SQLite serialises writers (IMMEDIATE transactions), and
the in-memory test database cannot be shared by writing threads, so there the same outcome is
checked for calls one after another; the step that decides a lost race (the reserve step) is
exercised on SQLite by `test_the_reserve_step_itself_refuses_an_overlap_the_checks_did_not_see`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from bookings import notifications
from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment, Customer
from mcp_core.orchestrator import CallResult
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    booking_args,
    make_world,
    outbox,
)
from tests.operations import call

RACERS = 20


def race(count: int, attempt: Callable[[int], CallResult]) -> list[CallResult]:
    """Run `attempt(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = attempt(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results)
    return results


def outcomes(results: list[CallResult]) -> list[str]:
    return sorted("ok" if result.ok else result.error.error_type.name for result in results)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_slot_make_exactly_one_appointment():
    world = make_world()
    args = booking_args(world)

    results = race(RACERS, lambda _: call(world.principal, "booking.createBooking", args))

    assert outcomes(results) == ["CONFLICT"] * (RACERS - 1) + ["ok"]
    for result in results:
        if not result.ok:
            assert result.error.details["next_available"][0]["start"] == (
                "2027-03-08T10:30:00+01:00"
            )
    winner = next(result for result in results if result.ok)
    active = Appointment.objects.all_tenants().filter(staff=world.anna, status__in=ACTIVE_STATUSES)
    assert list(active.values_list("pk", flat=True)) == [winner.data["appointment"]["id"]]
    assert Customer.objects.all_tenants().count() == 1
    assert len(notifications.sent_messages) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_bookings_at_different_minutes_make_one_appointment():
    world = make_world()
    starts = [f"2027-03-08T10:{minute:02d}:00" for minute in range(0, 20)]

    results = race(
        len(starts),
        lambda index: call(
            world.principal,
            "booking.createBooking",
            booking_args(world, start_time=starts[index], customer_phone=f"030 2000{index:03d}"),
        ),
    )

    assert outcomes(results).count("ok") == 1
    assert set(outcomes(results)) == {"ok", "CONFLICT"}
    assert (
        Appointment.objects.all_tenants()
        .filter(staff=world.anna, status__in=ACTIVE_STATUSES)
        .count()
        == 1
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_auto_assigned_bookings_fill_each_free_staff_member_once():
    world = make_world()  # Anna and Ben

    results = race(
        RACERS,
        lambda index: call(
            world.principal,
            "booking.createBooking",
            booking_args(world, staff_id=None, customer_phone=f"030 3000{index:03d}"),
        ),
    )

    assert outcomes(results).count("ok") == 2
    assert set(outcomes(results)) == {"ok", "CONFLICT"}
    booked = Appointment.objects.all_tenants().filter(status__in=ACTIVE_STATUSES)
    assert sorted(booked.values_list("staff_id", flat=True)) == sorted(
        [world.anna.pk, world.ben.pk]
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_all_get_the_one_booking():
    world = make_world()
    args = booking_args(world, idempotency_key="call-7f3a")

    results = race(10, lambda _: call(world.principal, "booking.createBooking", args))

    assert outcomes(results) == ["ok"] * 10
    ids = {result.data["appointment"]["id"] for result in results}
    numbers = {result.data["confirmation_number"] for result in results}
    assert len(ids) == len(numbers) == 1
    assert Appointment.objects.all_tenants().count() == 1
    assert len(notifications.sent_messages) == 1


@pytest.mark.django_db
def test_one_after_another_only_the_first_booking_of_a_slot_succeeds():
    world = make_world()
    args = booking_args(world)

    results = [call(world.principal, "booking.createBooking", args) for _ in range(5)]

    assert [result.ok for result in results] == [True, False, False, False, False]
    assert {result.error.error_type.name for result in results[1:]} == {"CONFLICT"}
    assert (
        Appointment.objects.all_tenants()
        .filter(staff=world.anna, status__in=ACTIVE_STATUSES)
        .count()
        == 1
    )
    assert len(notifications.sent_messages) == 1
