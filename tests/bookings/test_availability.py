"""The availability engine (bookings.availability), rule by rule, and its two operations.

Unless a test says otherwise: one branch in Europe/Berlin with the default opening hours
(Mon–Fri 09:00–18:00, Sat 09:00–14:00, Sunday closed), one staff member working Mon–Fri
09:00–18:00 with a break 12:30–13:00, a 30-minute service and `now` fixed at Monday
2027-03-01 08:00 in Berlin.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import factory
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.availability import (
    Slot,
    check_bookable,
    find_available_staff,
    find_slots,
    next_available,
    staff_schedule,
)
from bookings.enums import EXPERIENCE_CAP, AppointmentStatus
from bookings.errors import SlotNotBookable, SlotTaken
from common.errors import ApplicationError, Conflict, ValidationFailed
from mcp_core.auth import Principal
from mcp_core.orchestrator import execute_named
from staff.models import StaffService, WorkingHours
from staff.schedule_version import schedule_version_bump as schedule_cache_invalidate
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
    TimeBlockFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=BERLIN)
MONDAY = dt.date(2027, 3, 8)
TUESDAY = dt.date(2027, 3, 9)
WEEKDAY_GRID = [
    *(f"{h:02d}:{m:02d}" for h in range(9, 12) for m in (0, 30)),
    "12:00",
    *(f"{h:02d}:{m:02d}" for h in range(13, 18) for m in (0, 30)),
]  # 09:00 … 17:30 without 12:30 (the break)


def at(day: dt.date, hh_mm: str, zone: ZoneInfo = BERLIN) -> dt.datetime:
    hour, minute = map(int, hh_mm.split(":"))
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def times(slots: list[Slot]) -> list[str]:
    return [slot.start.strftime("%H:%M") for slot in slots]


def make_staff(branch, service=None, *, weekdays=range(5), skill=3, **hours):
    """A staff member of `branch`, qualified for `service`, with one period per weekday."""
    member = StaffFactory(branch=branch, tenant=branch.tenant)
    if service is not None:
        StaffServiceFactory(staff=member, service=service, skill_level=skill)
    for weekday in weekdays:
        WorkingHoursFactory(staff=member, weekday=weekday, **hours)
    return member


@pytest.fixture
def tenant():
    return CompanyFactory()


@pytest.fixture
def branch(tenant):
    return BranchFactory(tenant=tenant, settings={})


@pytest.fixture
def service(tenant):
    return ServiceFactory(tenant=tenant, duration_minutes=30)


@pytest.fixture
def staff(branch, service):
    return make_staff(branch, service)


def slots_on(tenant, service, day=MONDAY, **kwargs):
    kwargs.setdefault("now", NOW)
    return find_slots(tenant=tenant, service=service, date_from=day, date_to=day, **kwargs)


# ------------------------------------------------------------------------------ the grid


def test_a_weekday_has_the_grid_of_the_working_day_in_winter_time(tenant, service, staff):
    slots = slots_on(tenant, service)

    assert times(slots) == WEEKDAY_GRID
    assert slots[0].as_dict() == {
        "start": "2027-03-08T09:00:00+01:00",
        "end": "2027-03-08T09:30:00+01:00",
        "staff_id": staff.pk,
        "branch_id": staff.branch_id,
    }
    assert slots[-1].as_dict()["start"] == "2027-03-08T17:30:00+01:00"


def test_a_summer_day_shows_the_summer_offset(tenant, service, staff):
    slots = slots_on(tenant, service, dt.date(2027, 3, 29))

    assert times(slots) == WEEKDAY_GRID
    assert slots[0].as_dict()["start"] == "2027-03-29T09:00:00+02:00"
    assert slots[0].as_dict()["end"] == "2027-03-29T09:30:00+02:00"


def test_no_slots_when_the_branch_is_closed(tenant, service, branch):
    make_staff(branch, service, weekdays=[6])  # works Sundays, but the branch is closed

    assert slots_on(tenant, service, dt.date(2027, 3, 7)) == []


def test_opening_hours_cut_the_working_hours(tenant, service, branch):
    branch.business_hours["monday"] = {"open": "10:00", "close": "12:00", "is_open": True}
    branch.save()
    make_staff(branch, service, start_time=dt.time(8), end_time=dt.time(18), breaks=[])

    assert times(slots_on(tenant, service)) == ["10:00", "10:30", "11:00", "11:30"]


def test_slots_follow_the_staff_members_working_hours(tenant, service, branch):
    make_staff(branch, service, start_time=dt.time(10), end_time=dt.time(14), breaks=[])

    assert times(slots_on(tenant, service)) == [
        "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
    ]  # fmt: skip
    assert slots_on(tenant, service, dt.date(2027, 3, 13)) == []  # no hours on Saturdays


def test_no_slot_overlaps_a_break(tenant, branch):
    hour = ServiceFactory(tenant=tenant, duration_minutes=60)
    make_staff(branch, hour, start_time=dt.time(11), end_time=dt.time(14))

    # 11:30–12:30 ends as the break starts; 12:00 and 12:30 would overlap 12:30–13:00.
    assert times(slots_on(tenant, hour)) == ["11:00", "11:30", "13:00"]


def test_a_time_block_removes_the_slots_it_touches(tenant, service, staff):
    TimeBlockFactory(staff=staff, start_time=at(MONDAY, "14:00"), end_time=at(MONDAY, "15:00"))
    TimeBlockFactory(staff=staff, start_time=at(MONDAY, "16:10"), end_time=at(MONDAY, "16:20"))

    remaining = times(slots_on(tenant, service))

    assert [t for t in WEEKDAY_GRID if t not in remaining] == ["14:00", "14:30", "16:00"]


def test_an_appointment_blocks_its_time_and_its_buffers(tenant, branch):
    hour = ServiceFactory(tenant=tenant, duration_minutes=60, buffer_after_minutes=15)
    member = make_staff(branch, hour, breaks=[], end_time=dt.time(13))
    AppointmentFactory(staff=member, service=hour, start_time=at(MONDAY, "10:00"))

    # occupied 10:00–11:15: a 60-minute slot may neither overlap it nor let its own 15-minute
    # buffer reach into it, so 09:00 (until 10:15 with buffer), 10:00, 10:30 and 11:00 go.
    assert times(slots_on(tenant, hour)) == ["11:30", "12:00"]


def test_the_buffer_before_counts_too(tenant, branch, service):
    prepared = ServiceFactory(tenant=tenant, duration_minutes=30, buffer_before_minutes=30)
    member = make_staff(branch, service, breaks=[], start_time=dt.time(9), end_time=dt.time(12))
    AppointmentFactory(staff=member, service=prepared, start_time=at(MONDAY, "10:30"))

    # occupied 10:00–11:00
    assert times(slots_on(tenant, service)) == ["09:00", "09:30", "11:00", "11:30"]


@pytest.mark.parametrize(
    "status",
    [AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW],
)
def test_inactive_appointments_do_not_block(tenant, service, staff, status):
    AppointmentFactory(staff=staff, service=service, start_time=at(MONDAY, "10:00"), status=status)

    assert times(slots_on(tenant, service)) == WEEKDAY_GRID


def test_a_pending_appointment_blocks_and_can_be_excluded(tenant, service, staff):
    appointment = AppointmentFactory(
        staff=staff,
        service=service,
        start_time=at(MONDAY, "10:00"),
        status=AppointmentStatus.PENDING,
    )

    assert "10:00" not in times(slots_on(tenant, service))
    excluded = slots_on(tenant, service, exclude_appointment_id=appointment.pk)
    assert times(excluded) == WEEKDAY_GRID


def test_only_qualified_staff_get_slots(tenant, service, branch, staff):
    make_staff(branch, None)  # works, but has no StaffService row for the service
    other = ServiceFactory(tenant=tenant)
    make_staff(branch, other)

    assert {slot.staff_id for slot in slots_on(tenant, service)} == {staff.pk}


def test_inactive_staff_gets_no_slots(tenant, service, staff):
    staff.is_active = False
    staff.save()

    assert slots_on(tenant, service) == []


def test_an_inactive_branch_gets_no_slots(tenant, service, staff, branch):
    branch.is_active = False
    branch.save()

    assert slots_on(tenant, service) == []


def test_an_inactive_service_has_no_slots(tenant, service, staff):
    service.is_active = False
    service.save()

    assert slots_on(tenant, service) == []


def test_a_service_with_branches_is_offered_only_there(tenant, service, staff, branch):
    elsewhere = BranchFactory(tenant=tenant)
    service.branches.add(elsewhere)

    assert slots_on(tenant, service) == []
    service.branches.add(branch)
    assert times(slots_on(tenant, service)) == WEEKDAY_GRID


def test_another_tenants_service_has_no_slots(service, staff):
    assert slots_on(CompanyFactory(), service) == []


def test_minimum_notice_is_counted_from_now(tenant, service, staff, branch):
    now = at(MONDAY, "09:40")
    assert times(slots_on(tenant, service, now=now))[:2] == ["10:00", "10:30"]  # default 0

    branch.settings = {"min_notice_minutes": 60}
    branch.save()
    assert times(slots_on(tenant, service, now=now))[:2] == ["11:00", "11:30"]  # from 10:40


def test_the_booking_window_ends_max_advance_days_after_now(tenant, service, staff, settings):
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 7
    now = at(dt.date(2027, 3, 1), "10:00")

    assert times(slots_on(tenant, service, now=now)) == ["09:00", "09:30", "10:00"]
    assert slots_on(tenant, service, TUESDAY, now=now) == []


def test_the_slot_interval_comes_from_the_branch_settings(tenant, service, staff, branch):
    branch.settings = {"slot_interval_minutes": 45}
    branch.save()

    assert times(slots_on(tenant, service)) == [
        "09:00", "09:45", "10:30", "11:15", "12:00", "13:30", "14:15", "15:00", "15:45",
        "16:30", "17:15",
    ]  # fmt: skip


def test_slots_of_several_branches_are_sorted_by_instant(tenant, service, staff, branch):
    london = BranchFactory(tenant=tenant, time_zone="Europe/London", settings={})
    londoner = make_staff(london, service)

    slots = slots_on(tenant, service)

    by_branch = {b: [s for s in slots if s.branch_id == b] for b in (branch.pk, london.pk)}
    assert times(by_branch[branch.pk]) == WEEKDAY_GRID
    assert times(by_branch[london.pk]) == WEEKDAY_GRID
    assert by_branch[london.pk][0].as_dict()["start"] == "2027-03-08T09:00:00+00:00"
    # 09:00 in London is 10:00 in Berlin: Berlin's 09:00 and 09:30 come first, then both.
    assert [(s.staff_id, s.start.strftime("%H:%M")) for s in slots[:4]] == [
        (staff.pk, "09:00"),
        (staff.pk, "09:30"),
        (staff.pk, "10:00"),
        (londoner.pk, "09:00"),
    ]
    only_london = slots_on(tenant, service, branch_ids=[london.pk])
    assert {slot.branch_id for slot in only_london} == {london.pk}


def test_staff_id_filters_the_slots(tenant, service, staff, branch):
    other = make_staff(branch, service, start_time=dt.time(14), breaks=[])

    assert len(slots_on(tenant, service)) == len(WEEKDAY_GRID) + 8
    mine = slots_on(tenant, service, staff_id=other.pk)
    assert {slot.staff_id for slot in mine} == {other.pk}
    assert len(mine) == 8


def test_slots_over_several_days_cover_each_local_date(tenant, service, staff):
    slots = find_slots(tenant=tenant, service=service, date_from=MONDAY, date_to=TUESDAY, now=NOW)

    assert len(slots) == 2 * len(WEEKDAY_GRID)
    assert {slot.start.date() for slot in slots} == {MONDAY, TUESDAY}
    assert slots == sorted(slots, key=lambda s: (s.start, s.staff_id))


# ------------------------------------------------------------------------------ next_available


def test_next_available_skips_a_blocked_day_and_the_weekend(tenant, service, staff):
    friday = dt.date(2027, 3, 12)
    TimeBlockFactory(staff=staff, start_time=at(friday, "00:00"), end_time=at(friday, "23:59"))

    found = next_available(tenant=tenant, service=service, after=at(friday, "08:00"), now=NOW)

    assert [slot.as_dict()["start"] for slot in found] == ["2027-03-15T09:00:00+01:00"]


def test_next_available_returns_the_first_slots_after_the_instant(tenant, service, staff):
    found = next_available(
        tenant=tenant, service=service, after=at(MONDAY, "17:10"), limit=3, now=NOW
    )

    assert [slot.as_dict()["start"] for slot in found] == [
        "2027-03-08T17:30:00+01:00",
        "2027-03-09T09:00:00+01:00",
        "2027-03-09T09:30:00+01:00",
    ]


def test_next_available_searches_the_whole_booking_window(tenant, service, staff, settings):
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 60
    TimeBlockFactory(
        staff=staff, start_time=at(MONDAY, "00:00"), end_time=at(dt.date(2027, 4, 20), "00:00")
    )

    found = next_available(tenant=tenant, service=service, after=NOW, now=NOW)
    assert [slot.as_dict()["start"] for slot in found] == ["2027-03-01T09:00:00+01:00"]

    later = next_available(tenant=tenant, service=service, after=at(MONDAY, "00:00"), now=NOW)
    assert [slot.as_dict()["start"] for slot in later] == ["2027-04-20T09:00:00+02:00"]

    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 45  # the window ends before the block does
    assert next_available(tenant=tenant, service=service, after=at(MONDAY, "00:00"), now=NOW) == []


# ------------------------------------------------------------------------------ DST


@pytest.fixture
def night_shift(tenant, branch, service):
    """Open and working Sunday 00:00–06:00, to see the clock change at 02:00/03:00."""
    branch.business_hours["sunday"] = {"open": "00:00", "close": "06:00", "is_open": True}
    branch.save()
    return make_staff(branch, service, weekdays=[6], start_time=dt.time(0), end_time=dt.time(6))


def test_spring_forward_has_no_slot_in_the_missing_hour(tenant, service, night_shift):
    slots = slots_on(tenant, service, dt.date(2027, 3, 28))

    assert [slot.as_dict()["start"][11:] for slot in slots] == [
        "00:00:00+01:00", "00:30:00+01:00", "01:00:00+01:00", "01:30:00+01:00",
        "03:00:00+02:00", "03:30:00+02:00", "04:00:00+02:00", "04:30:00+02:00",
        "05:00:00+02:00", "05:30:00+02:00",
    ]  # fmt: skip
    # 01:30 + 30 real minutes is 03:00 summer time.
    assert slots[3].as_dict()["end"] == "2027-03-28T03:00:00+02:00"


def test_fall_back_offers_each_wall_time_once(tenant, service, night_shift, settings):
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 365
    slots = slots_on(tenant, service, dt.date(2027, 10, 31))

    assert [slot.as_dict()["start"][11:] for slot in slots] == [
        "00:00:00+02:00", "00:30:00+02:00", "01:00:00+02:00", "01:30:00+02:00",
        "02:00:00+02:00", "02:30:00+02:00", "03:00:00+01:00", "03:30:00+01:00",
        "04:00:00+01:00", "04:30:00+01:00", "05:00:00+01:00", "05:30:00+01:00",
    ]  # fmt: skip
    # 02:30 summer time + 30 real minutes is the second 02:00, in winter time.
    assert slots[5].as_dict()["end"] == "2027-10-31T02:00:00+01:00"


# ------------------------------------------------------------------------------ check_bookable


def bookable(tenant, service, branch, staff, start, **kwargs):
    kwargs.setdefault("now", NOW)
    check_bookable(
        tenant=tenant, service=service, branch=branch, staff=staff, start=start, **kwargs
    )


def refusal(tenant, service, branch, staff, start, **kwargs) -> str:
    with pytest.raises(SlotNotBookable) as caught:
        bookable(tenant, service, branch, staff, start, **kwargs)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.error_type.name == "VALIDATION_FAILED"
    assert caught.value.http_status == 400
    assert list(caught.value.details) == ["start_time"]
    return caught.value.details["start_time"][0]


def test_a_free_time_off_the_grid_is_bookable(tenant, service, branch, staff):
    bookable(tenant, service, branch, staff, at(MONDAY, "10:15"))
    bookable(tenant, service, branch, staff, at(MONDAY, "12:00"))  # ends as the break starts
    bookable(tenant, service, branch, staff, at(MONDAY, "17:30"))  # ends at closing time


def test_check_bookable_refuses_times_before_now_notice_and_after_the_window(
    tenant, service, branch, staff, settings
):
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 7
    now = at(MONDAY, "10:00")
    branch.settings = {"min_notice_minutes": 120}
    branch.save()

    assert refusal(tenant, service, branch, staff, at(MONDAY, "09:30"), now=now) == (
        "The start time is in the past."
    )
    assert refusal(tenant, service, branch, staff, at(MONDAY, "11:30"), now=now) == (
        "Bookings need at least 120 minutes' notice."
    )
    bookable(tenant, service, branch, staff, at(MONDAY, "12:00"), now=now)
    assert refusal(
        tenant, service, branch, staff, at(MONDAY + dt.timedelta(7), "10:30"), now=now
    ) == ("Bookings can be made at most 7 days in advance.")


def test_check_bookable_refuses_closed_times(tenant, service, branch, staff):
    sunday = dt.date(2027, 3, 7)
    assert refusal(tenant, service, branch, staff, at(sunday, "10:00")) == (
        "The branch is closed at that time."
    )
    assert refusal(tenant, service, branch, staff, at(MONDAY, "17:45")) == (
        "The branch is closed at that time."
    )


def test_check_bookable_refuses_times_outside_working_hours_breaks_and_blocks(
    tenant, service, branch
):
    member = make_staff(branch, service, start_time=dt.time(10), end_time=dt.time(16))
    TimeBlockFactory(
        staff=member, start_time=at(MONDAY, "14:00"), end_time=at(MONDAY, "15:00"), kind="vacation"
    )

    assert refusal(tenant, service, branch, member, at(MONDAY, "09:30")) == (
        "The time is outside the staff member's working hours."
    )
    assert refusal(tenant, service, branch, member, at(MONDAY, "15:45")) == (
        "The time is outside the staff member's working hours."
    )
    assert refusal(tenant, service, branch, member, at(MONDAY, "12:15")) == (
        "The time falls in the staff member's break."
    )
    assert refusal(tenant, service, branch, member, at(MONDAY, "13:45")) == (
        "The staff member is not available then (Vacation)."
    )


def test_check_bookable_refuses_the_wrong_staff_member(tenant, service, branch, staff):
    unqualified = make_staff(branch, None)
    assert refusal(tenant, service, branch, unqualified, at(MONDAY, "10:00")) == (
        "The staff member is not qualified for this service."
    )
    elsewhere = make_staff(BranchFactory(tenant=tenant), service)
    assert refusal(tenant, service, branch, elsewhere, at(MONDAY, "10:00")) == (
        "The staff member does not work at this branch."
    )
    staff.is_active = False
    staff.save()
    assert refusal(tenant, service, branch, staff, at(MONDAY, "10:00")) == (
        "The staff member is not active."
    )


def test_check_bookable_refuses_inactive_branches_and_services_not_offered(
    tenant, service, branch, staff
):
    service.branches.add(BranchFactory(tenant=tenant))
    assert refusal(tenant, service, branch, staff, at(MONDAY, "10:00")) == (
        "The service is not offered at this branch."
    )
    branch.is_active = False
    branch.save()
    assert refusal(tenant, service, branch, staff, at(MONDAY, "10:00")) == (
        "The branch does not take bookings."
    )


def test_check_bookable_reports_a_taken_time_as_a_conflict(tenant, branch):
    cleaned = ServiceFactory(tenant=tenant, duration_minutes=60, buffer_after_minutes=15)
    member = make_staff(branch, cleaned)
    appointment = AppointmentFactory(staff=member, service=cleaned, start_time=at(MONDAY, "10:00"))

    with pytest.raises(SlotTaken) as caught:
        bookable(tenant, cleaned, branch, member, at(MONDAY, "11:00"))  # in the buffer
    assert isinstance(caught.value, Conflict)
    assert caught.value.http_status == 409
    assert caught.value.details == {
        "staff_id": member.pk,
        "start_time": "2027-03-08T11:00:00+01:00",
    }
    with pytest.raises(SlotTaken):
        bookable(tenant, cleaned, branch, member, at(MONDAY, "08:45") + dt.timedelta(minutes=30))
    bookable(tenant, cleaned, branch, member, at(MONDAY, "11:15"))
    bookable(
        tenant, cleaned, branch, member, at(MONDAY, "10:30"), exclude_appointment_id=appointment.pk
    )


# ----------------------------------------------------------------------- find_available_staff


def test_find_available_staff_orders_by_skill_rating_and_experience(tenant, service, branch):
    def member(skill, rating, completed):
        person = make_staff(branch, service, skill=skill)
        person.rating = rating
        person.save()
        for day in range(completed):
            AppointmentFactory(
                staff=person,
                service=service,
                start_time=at(dt.date(2027, 2, 1 + day), "10:00"),
                status=AppointmentStatus.COMPLETED,
            )
        return person

    junior = member(2, "5.00", 0)
    rated_low = member(4, "3.00", 5)
    experienced = member(4, "4.50", 2)
    fresh = member(4, "4.50", 0)
    fresh_twin = member(4, "4.50", 0)
    master = member(5, "1.00", 0)
    busy = member(5, "5.00", 9)
    AppointmentFactory(staff=busy, service=service, start_time=at(MONDAY, "10:00"))

    found = find_available_staff(tenant=tenant, service=service, start=at(MONDAY, "10:15"), now=NOW)

    assert [person.pk for person in found] == [
        master.pk, experienced.pk, fresh.pk, fresh_twin.pk, rated_low.pk, junior.pk,
    ]  # fmt: skip
    assert (
        find_available_staff(tenant=tenant, service=service, start=at(MONDAY, "12:30"), now=NOW)
        == []
    )


def test_experience_counts_completed_appointments_up_to_the_cap(tenant, service, branch):
    """Past EXPERIENCE_CAP completed appointments two members are equally experienced (the id
    decides), as in the staff score; below it the one with more comes first."""
    assert EXPERIENCE_CAP == 50

    def member(completed):
        person = make_staff(branch, service, skill=4)
        start = at(dt.date(2026, 1, 5), "08:00")
        AppointmentFactory.create_batch(
            completed,
            staff=person,
            service=service,
            status=AppointmentStatus.COMPLETED,
            start_time=factory.Iterator(start + dt.timedelta(hours=h) for h in range(completed)),
        )
        return person

    capped_first, capped_more, below_cap, fewer = member(50), member(70), member(49), member(3)

    found = find_available_staff(tenant=tenant, service=service, start=at(MONDAY, "10:15"), now=NOW)

    assert [person.pk for person in found] == [
        capped_first.pk, capped_more.pk, below_cap.pk, fewer.pk,
    ]  # fmt: skip


# ------------------------------------------------------------------------------ staff_schedule


def test_staff_schedule_counts_working_blocked_and_booked_minutes(tenant, branch, staff):
    cleaned = ServiceFactory(tenant=tenant, duration_minutes=60, buffer_after_minutes=15)
    StaffServiceFactory(staff=staff, service=cleaned)
    TimeBlockFactory(staff=staff, start_time=at(MONDAY, "15:00"), end_time=at(MONDAY, "16:00"))
    AppointmentFactory(staff=staff, service=cleaned, start_time=at(MONDAY, "10:00"))

    monday, tuesday = staff_schedule(
        tenant=tenant, staff=staff, date_from=MONDAY, date_to=TUESDAY, now=NOW
    )

    assert monday.date == MONDAY
    assert [(a.isoformat(), b.isoformat()) for a, b in monday.working_periods] == [
        ("2027-03-08T09:00:00+01:00", "2027-03-08T12:30:00+01:00"),
        ("2027-03-08T13:00:00+01:00", "2027-03-08T18:00:00+01:00"),
    ]
    # 510 working minutes - 60 blocked - 75 occupied (10:00–11:15 with the buffer)
    assert (monday.available_minutes, monday.booked_minutes) == (375, 75)
    assert monday.utilisation == 0.1667
    blocked = {"10:00", "10:30", "11:00", "15:00", "15:30"}
    assert times(monday.free_slots) == [t for t in WEEKDAY_GRID if t not in blocked]
    assert (tuesday.available_minutes, tuesday.booked_minutes, tuesday.utilisation) == (510, 0, 0.0)
    assert len(tuesday.free_slots) == len(WEEKDAY_GRID)

    (hour_slots,) = staff_schedule(
        tenant=tenant, staff=staff, date_from=MONDAY, date_to=MONDAY, service=cleaned, now=NOW
    )
    assert times(hour_slots.free_slots) == [
        "11:30",
        "13:00",
        "13:30",
        "14:00",
        "16:00",
        "16:30",
        "17:00",
    ]


def test_staff_schedule_of_a_day_off_and_of_an_unqualified_service(tenant, staff):
    other = ServiceFactory(tenant=tenant)
    sunday, monday = staff_schedule(
        tenant=tenant,
        staff=staff,
        date_from=dt.date(2027, 3, 7),
        date_to=MONDAY,
        service=other,
        now=NOW,
    )

    assert (sunday.working_periods, sunday.free_slots, sunday.utilisation) == ([], [], 0.0)
    assert sunday.available_minutes == sunday.booked_minutes == 0
    assert monday.available_minutes == 510
    assert monday.free_slots == []  # not qualified for `other`


# ------------------------------------------------------------------------------ queries and cache


def test_find_slots_uses_a_constant_number_of_queries(
    tenant, service, branch, django_assert_max_num_queries
):
    small = BranchFactory(tenant=tenant, settings={})
    pair = [make_staff(small, service) for _ in range(2)]
    team = [make_staff(branch, service) for _ in range(20)]
    for member in [*team, *pair]:
        AppointmentFactory(staff=member, service=service, start_time=at(MONDAY, "10:00"))
        TimeBlockFactory(
            staff=member, start_time=at(TUESDAY, "10:00"), end_time=at(TUESDAY, "11:00")
        )

    def search(branch_id):
        cache.clear()
        return find_slots(
            tenant=tenant,
            service=service,
            date_from=MONDAY,
            date_to=MONDAY + dt.timedelta(days=13),
            branch_ids=[branch_id],
            now=NOW,
        )

    with django_assert_max_num_queries(10):
        slots = search(branch.pk)
    per_staff = 10 * len(WEEKDAY_GRID) - 1 - 2  # 10 working days, the appointment, the block
    assert len(slots) == 20 * per_staff
    with CaptureQueriesContext(connection) as twenty:
        search(branch.pk)
    with CaptureQueriesContext(connection) as two:
        assert len(search(small.pk)) == 2 * per_staff
    assert len(twenty) == len(two) == 4
    with CaptureQueriesContext(connection) as warm:
        find_slots(tenant=tenant, service=service, date_from=MONDAY, date_to=MONDAY, now=NOW)
        find_slots(tenant=tenant, service=service, date_from=MONDAY, date_to=MONDAY, now=NOW)
    # The second call takes the staff, their skills and working hours from the process's memo
    # (under the schedule version): only the time blocks and appointments are read, in one
    # statement.
    assert len(warm) == 4 + 1


def test_changed_working_hours_show_after_the_cache_is_invalidated(tenant, service, staff):
    assert len(slots_on(tenant, service)) == len(WEEKDAY_GRID)
    WorkingHours.objects.all_tenants().filter(staff=staff).update(end_time=dt.time(12))

    assert len(slots_on(tenant, service)) == len(WEEKDAY_GRID)  # still cached
    schedule_cache_invalidate(tenant_id=tenant.pk)
    assert times(slots_on(tenant, service)) == WEEKDAY_GRID[:6]


def test_skills_are_read_fresh(tenant, service, staff):
    assert slots_on(tenant, service)
    StaffService.objects.all_tenants().filter(staff=staff).delete()
    assert slots_on(tenant, service) == []


# ------------------------------------------------------------------------------ operations


@pytest.fixture
def principal(tenant):
    api_key = ApiKeyFactory(tenant=tenant, role="readonly")
    return Principal(
        tenant=tenant, role="readonly", api_key_id=api_key.pk, key_prefix=api_key.prefix
    )


@pytest.fixture
def far_window(settings):
    """The operations count from the real now; let the window reach the 2027 test dates."""
    settings.MCP_BOOKING_MAX_ADVANCE_DAYS = 3650


def test_check_availability_operation(principal, service, staff, branch, far_window):
    result = execute_named(
        principal, "booking.checkAvailability", {"service_id": service.pk, "date": "2027-03-29"}
    )

    assert result.ok, result.error
    assert result.data["available"] is True
    assert len(result.data["slots"]) == len(WEEKDAY_GRID)
    first = {
        "start": "2027-03-29T09:00:00+02:00",
        "end": "2027-03-29T09:30:00+02:00",
        "staff_id": staff.pk,
        "branch_id": branch.pk,
    }
    assert result.data["slots"][0] == first
    assert result.data["next_available"] == {
        "start": "2027-03-29T09:00:00+02:00",
        "staff_id": staff.pk,
        "branch_id": branch.pk,
    }


def test_check_availability_of_a_closed_day_names_the_next_slot(
    principal, service, staff, branch, far_window
):
    result = execute_named(
        principal,
        "booking.checkAvailability",
        {"service_id": service.pk, "date": "2027-03-27", "branch_ids": [branch.pk]},
    )

    assert result.ok, result.error
    assert (result.data["available"], result.data["slots"]) == (False, [])
    assert result.data["next_available"] == {
        "start": "2027-03-29T09:00:00+02:00",
        "staff_id": staff.pk,
        "branch_id": branch.pk,
    }


def test_check_availability_with_nothing_free_has_no_next_slot(principal, service, branch):
    result = execute_named(
        principal, "booking.checkAvailability", {"service_id": service.pk, "date": "2027-03-29"}
    )

    assert result.ok, result.error
    assert result.data == {"available": False, "slots": [], "next_available": None}


def test_check_availability_refuses_other_tenants_ids(principal, service, staff, far_window):
    stranger = StaffFactory()
    foreign_service = ServiceFactory(tenant=stranger.tenant)
    cases = [
        ({"service_id": foreign_service.pk}, "service_id", "Service"),
        ({"service_id": service.pk, "branch_ids": [stranger.branch_id]}, "branch_ids", "Branch"),
        ({"service_id": service.pk, "staff_id": stranger.pk}, "staff_id", "Staff member"),
    ]
    for args, field, noun in cases:
        result = execute_named(
            principal, "booking.checkAvailability", {"date": "2027-03-29", **args}
        )
        assert result.error is not None
        assert (result.error.error_type.name, result.error.http_status) == (
            "RESOURCE_NOT_FOUND",
            404,
        )
        assert result.error.message.startswith(f"{noun} ")
        assert field in result.error.details


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"date": "29.03.2027"}, "date"),
        ({"date": 1806278400}, "date"),
        ({"date": "2027-03-29", "branch_ids": []}, "branch_ids"),
        ({"date": "2027-03-29", "colour": "red"}, "colour"),
    ],
)
def test_check_availability_validates_its_input(principal, service, args, field):
    result = execute_named(
        principal, "booking.checkAvailability", {"service_id": service.pk, **args}
    )

    assert result.error.error_type.name == "VALIDATION_FAILED"
    assert list(result.error.details) == [field]


def test_get_booking_slots_operation(principal, service, staff, branch, far_window):
    other = make_staff(branch, service, start_time=dt.time(14), breaks=[])
    args = {"service_id": service.pk, "branch_id": branch.pk, "start_date": "2027-03-29"}

    one_day = execute_named(principal, "booking.getBookingSlots", args)
    week = execute_named(principal, "booking.getBookingSlots", {**args, "end_date": "2027-04-04"})
    mine = execute_named(principal, "booking.getBookingSlots", {**args, "staff_id": other.pk})

    assert len(one_day.data["slots"]) == len(WEEKDAY_GRID) + 8
    assert len(week.data["slots"]) == 5 * (len(WEEKDAY_GRID) + 8)
    assert week.data["slots"][-1]["start"] == "2027-04-02T17:30:00+02:00"
    assert {slot["staff_id"] for slot in mine.data["slots"]} == {other.pk}


@pytest.mark.parametrize(
    ("end_date", "message"),
    [
        ("2027-03-28", "Must not be before start_date."),
        ("2027-04-29", "At most 31 days per request."),
    ],
)
def test_get_booking_slots_refuses_bad_ranges(principal, service, branch, end_date, message):
    result = execute_named(
        principal,
        "booking.getBookingSlots",
        {
            "service_id": service.pk,
            "branch_id": branch.pk,
            "start_date": "2027-03-29",
            "end_date": end_date,
        },
    )

    assert result.error.error_type.name == "VALIDATION_FAILED"
    assert result.error.details == {"end_date": [message]}


def test_get_booking_slots_accepts_31_days(principal, service, branch):
    args = {"service_id": service.pk, "branch_id": branch.pk, "start_date": "2027-03-29"}
    result = execute_named(principal, "booking.getBookingSlots", {**args, "end_date": "2027-04-28"})
    assert result.ok, result.error


def test_get_booking_slots_refuses_another_tenants_branch(principal, service):
    foreign = BranchFactory()
    result = execute_named(
        principal,
        "booking.getBookingSlots",
        {"service_id": service.pk, "branch_id": foreign.pk, "start_date": "2027-03-29"},
    )

    assert result.error.error_type.name == "RESOURCE_NOT_FOUND"
    assert result.error.details == {"branch_ids": [foreign.pk]}


def test_rest_check_availability(client, tenant, service, staff, far_window):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="readonly")

    response = client.post(
        "/api/v2/mcp/bookings/check-availability",
        {"service_id": service.pk, "date": "2027-03-29", "staff_id": staff.pk},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["available"] is True
    assert [slot["start"][11:16] for slot in body["slots"]] == WEEKDAY_GRID
    assert body["slots"][0]["start"] == "2027-03-29T09:00:00+02:00"


def test_rest_check_availability_of_another_tenants_service_is_404(client, tenant):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="readonly")

    response = client.post(
        "/api/v2/mcp/bookings/check-availability",
        {"service_id": ServiceFactory().pk, "date": "2027-03-29"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "RESOURCE_NOT_FOUND"


# ------------------------------------------------------------------ cached booking subjects


def test_booking_subjects_are_cached_until_any_of_them_changes(
    tenant, branch, service, staff, django_assert_num_queries
):
    from bookings.availability import booking_subjects

    args = {
        "tenant": tenant,
        "branch_id": branch.pk,
        "service_id": service.pk,
        "staff_id": staff.pk,
    }
    first = booking_subjects(**args)
    assert first.offer.qualified
    with django_assert_num_queries(0):
        assert booking_subjects(**args) == first

    # A skill removed (through the ORM, as the admin would) is seen at once.
    StaffService.objects.all_tenants().filter(staff=staff, service=service).delete()
    assert booking_subjects(**args).offer.qualified is False

    # So is a deactivated staff member, and a service limited to another branch.
    staff.is_active = False
    staff.save()
    assert booking_subjects(**args).staff.is_active is False
    service.branches.add(BranchFactory(tenant=tenant))
    offer = booking_subjects(**args).offer
    assert (offer.offered_anywhere, offer.offered_here) == (True, False)


def test_booking_subjects_never_cross_tenants(branch, service, staff):
    from bookings.availability import booking_subjects

    with pytest.raises(ApplicationError):
        booking_subjects(
            tenant=CompanyFactory(),
            branch_id=branch.pk,
            service_id=service.pk,
            staff_id=staff.pk,
        )
