"""The staff.* operations, called through the orchestrator as every front door does, and the
contract's staff REST routes.

Unless a test says otherwise: "Salon Sonnenschein" with one branch in Europe/Berlin (default
opening hours Mon–Fri 09:00–18:00, Sat 09:00–14:00), Anna and Ben working Mon–Fri
09:00–18:00 with a break 12:30–13:00 (09:00–12:30 and 13:00–18:00: 510 bookable minutes a
day), and `now` fixed at Wednesday 2027-06-02 08:00 in Berlin.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.enums import AppointmentStatus
from mcp_core.auth import Principal
from mcp_core.models import AuditLog
from mcp_core.operations import registry
from mcp_core.permissions import Role
from staff import services
from staff.errors import InvalidSchedule
from staff.models import Staff, StaffService, TimeBlock, WorkingHours
from tenants.models import Company
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
    WorkingHoursFactory,
)
from tests.operations import failed, ok, principal_for

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 6, 2, 8, 0, tzinfo=BERLIN)
MONDAY = dt.date(2027, 6, 7)
TUESDAY = dt.date(2027, 6, 8)
WEDNESDAY = dt.date(2027, 6, 9)
DAY_MINUTES = 510  # 09:00–12:30 and 13:00–18:00

STAFF_OPERATIONS = {
    "staff.listStaff": "access-mcp",
    "staff.getStaffAvailability": "access-mcp",
    "staff.updateStaffSchedule": "manage-staff",
    "staff.findAvailableStaff": "access-mcp",
    "staff.assignStaffToService": "manage-staff",
    "staff.getStaffWorkload": "access-mcp",
    "staff.updateStaffSkills": "manage-staff",
    "staff.getStaffPerformance": "access-mcp",
    "staff.blockStaffTime": "manage-staff",
    "staff.listServices": "access-mcp",
}


# ----------------------------------------------------------------------------------- helpers


def at(day: dt.date, hh_mm: str) -> dt.datetime:
    hour, minute = map(int, hh_mm.split(":"))
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def audit_rows(tenant: Company) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (row.action, row.object_id, row.changes)
        for row in AuditLog.objects.for_tenant(tenant).order_by("pk")
    ]


def hours_of(staff: Staff) -> list[tuple[int, str, str, list[dict[str, str]]]]:
    return [
        (row.weekday, f"{row.start_time:%H:%M}", f"{row.end_time:%H:%M}", row.breaks)
        for row in WorkingHours.objects.all_tenants()
        .filter(staff=staff)
        .order_by("weekday", "start_time")
    ]


def appointment(staff: Staff, service: Any, start: dt.datetime, **kwargs: Any) -> Any:
    return AppointmentFactory(
        staff=staff,
        tenant=staff.tenant,
        branch=staff.branch,
        service=service,
        start_time=start,
        **kwargs,
    )


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tenant() -> Company:
    return CompanyFactory(name="Salon Sonnenschein")


@pytest.fixture
def branch(tenant: Company) -> Any:
    return BranchFactory(tenant=tenant, name="Berlin Mitte")


@pytest.fixture
def herren(tenant: Company) -> Any:
    return ServiceFactory(
        tenant=tenant, name="Herrenhaarschnitt", duration_minutes=30, price=Decimal("29.00")
    )


@pytest.fixture
def damen(tenant: Company) -> Any:
    return ServiceFactory(
        tenant=tenant, name="Damenhaarschnitt", duration_minutes=60, price=Decimal("49.00")
    )


def working_week(member: Staff) -> None:
    for weekday in range(5):
        WorkingHoursFactory(staff=member, tenant=member.tenant, weekday=weekday)


@pytest.fixture
def anna(branch: Any, herren: Any, damen: Any) -> Staff:
    member = StaffFactory(
        branch=branch,
        tenant=branch.tenant,
        name="Anna Becker",
        email="anna@sonnenschein.example",
        phone="+4930111111",
        languages=["de", "en"],
        rating=Decimal("4.80"),
    )
    StaffServiceFactory(staff=member, tenant=member.tenant, service=herren, skill_level=5)
    StaffServiceFactory(staff=member, tenant=member.tenant, service=damen, skill_level=4)
    working_week(member)
    return member


@pytest.fixture
def ben(branch: Any, herren: Any) -> Staff:
    member = StaffFactory(
        branch=branch, tenant=branch.tenant, name="Ben Wolf", rating=Decimal("4.20")
    )
    StaffServiceFactory(staff=member, tenant=member.tenant, service=herren, skill_level=3)
    working_week(member)
    return member


@pytest.fixture
def owner(tenant: Company) -> Principal:
    return principal_for(tenant)


@pytest.fixture
def foreign_staff() -> Staff:
    member = StaffFactory(name="Fremd")
    working_week(member)
    return member


# ---------------------------------------------------------------------------------- registry


def test_the_registry_holds_exactly_the_ten_staff_operations():
    staff_ops = {op.name: op for op in registry if op.service == "staff"}
    assert {name: str(op.permission) for name, op in staff_ops.items()} == STAFF_OPERATIONS
    for op in staff_ops.values():
        assert op.input_schema()["additionalProperties"] is False, op.name
        assert op.output_schema()["type"] == "object", op.name
        assert op.description, op.name
        for field, spec in op.input_schema().get("properties", {}).items():
            assert spec.get("description"), f"{op.name}.{field}"
    assert {name for name, op in staff_ops.items() if op.read_only} == {
        "staff.listStaff",
        "staff.listServices",
        "staff.getStaffAvailability",
        "staff.findAvailableStaff",
        "staff.getStaffWorkload",
        "staff.getStaffPerformance",
    }


# --------------------------------------------------------------------------------- listStaff


def anna_json(anna: Staff, herren: Any, damen: Any) -> dict[str, Any]:
    return {
        "id": anna.pk,
        "name": "Anna Becker",
        "branch_id": anna.branch_id,
        "email": "anna@sonnenschein.example",
        "phone": "+4930111111",
        "languages": ["de", "en"],
        "is_active": True,
        "rating": 4.8,
        "services": [
            {"service_id": damen.pk, "name": "Damenhaarschnitt", "skill_level": 4},
            {"service_id": herren.pk, "name": "Herrenhaarschnitt", "skill_level": 5},
        ],
    }


def test_list_staff_with_services_and_filters(owner, anna, ben, herren, damen, foreign_staff):
    other_branch = BranchFactory(tenant=anna.tenant, name="Hamburg")
    carl = StaffFactory(branch=other_branch, tenant=anna.tenant, name="Carl", is_active=False)

    data = ok(owner, "staff.listStaff")
    assert [member["name"] for member in data["staff"]] == ["Anna Becker", "Ben Wolf", "Carl"]
    assert data["staff"][0] == anna_json(anna, herren, damen)
    assert (data["count"], data["page"], data["next_page"]) == (3, 1, None)

    assert ok(owner, "staff.listStaff", {"service_id": damen.pk})["staff"] == [
        anna_json(anna, herren, damen)
    ]
    by_branch = ok(owner, "staff.listStaff", {"branch_id": other_branch.pk})
    assert [member["id"] for member in by_branch["staff"]] == [carl.pk]
    active = ok(owner, "staff.listStaff", {"active": True})
    assert [member["id"] for member in active["staff"]] == [anna.pk, ben.pk]
    paged = ok(owner, "staff.listStaff", {"page": 1, "page_size": 2})
    assert (paged["count"], paged["next_page"], len(paged["staff"])) == (3, 2, 2)
    last = ok(owner, "staff.listStaff", {"page": 2, "page_size": 2})
    assert ([m["id"] for m in last["staff"]], last["next_page"]) == ([carl.pk], None)


def test_list_staff_validates_its_arguments(owner):
    assert failed(owner, "staff.listStaff", {"page_size": 101}) == (
        "VALIDATION_FAILED",
        {"page_size": ["Input should be less than or equal to 100"]},
    )
    assert failed(owner, "staff.listStaff", {"tenant_id": 1})[1] == {
        "tenant_id": ["Unknown field."]
    }


# ---------------------------------------------------------------------- getStaffAvailability


def test_staff_availability_per_day_and_over_the_range(owner, anna, damen):
    appointment(anna, damen, at(MONDAY, "10:00"))  # 60 minutes, no buffers

    data = ok(
        owner,
        "staff.getStaffAvailability",
        {"staff_id": anna.pk, "start_date": "2027-06-07", "end_date": "2027-06-08"},
    )

    monday, tuesday = data["days"]
    assert data["staff"] == {
        "id": anna.pk,
        "name": "Anna Becker",
        "branch_id": anna.branch_id,
        "time_zone": "Europe/Berlin",
    }
    assert (data["start_date"], data["end_date"]) == ("2027-06-07", "2027-06-08")
    assert monday["date"] == "2027-06-07"
    assert monday["working_hours"] == [
        {"start": "2027-06-07T09:00:00+02:00", "end": "2027-06-07T12:30:00+02:00"},
        {"start": "2027-06-07T13:00:00+02:00", "end": "2027-06-07T18:00:00+02:00"},
    ]
    starts = [slot["start"][11:16] for slot in monday["free_slots"]]
    assert starts == [
        "09:00", "09:30", "11:00", "11:30", "12:00",
        *(f"{h:02d}:{m:02d}" for h in range(13, 18) for m in (0, 30)),
    ]  # fmt: skip
    assert monday["free_slots"][0] == {
        "start": "2027-06-07T09:00:00+02:00",
        "end": "2027-06-07T09:30:00+02:00",
        "staff_id": anna.pk,
        "branch_id": anna.branch_id,
    }
    assert (
        monday["total_available_minutes"],
        monday["booked_minutes"],
        monday["utilisation"],
    ) == (DAY_MINUTES - 60, 60, 0.1176)
    assert (
        tuesday["total_available_minutes"],
        tuesday["booked_minutes"],
        tuesday["utilisation"],
    ) == (DAY_MINUTES, 0, 0.0)
    assert (data["total_available_minutes"], data["total_booked_minutes"], data["utilisation"]) == (
        2 * DAY_MINUTES - 60,
        60,
        0.0588,
    )


def test_staff_availability_of_a_service_and_defaults_to_one_day(owner, anna, damen):
    data = ok(
        owner,
        "staff.getStaffAvailability",
        {"staff_id": anna.pk, "start_date": "2027-06-07", "service_id": damen.pk},
    )
    (monday,) = data["days"]
    assert monday["free_slots"][0]["end"] == "2027-06-07T10:00:00+02:00"
    assert [slot["start"][11:16] for slot in monday["free_slots"]][-1] == "17:00"


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"start_date": "2027-06-07", "end_date": "2027-07-08"}, "end_date",
         "Value error, the range may span at most 31 days"),
        ({"start_date": "2027-06-07", "end_date": "2027-06-06"}, "end_date",
         "Value error, must not be before the start date"),
        ({"start_date": "07.06.2027"}, "start_date",
         "Expected a date as YYYY-MM-DD."),
    ],
)  # fmt: skip
def test_staff_availability_validates_the_range(owner, anna, args, field, message):
    assert failed(owner, "staff.getStaffAvailability", {"staff_id": anna.pk, **args}) == (
        "VALIDATION_FAILED",
        {field: [message]},
    )


def test_staff_availability_of_31_days_is_allowed(owner, anna):
    data = ok(
        owner,
        "staff.getStaffAvailability",
        {"staff_id": anna.pk, "start_date": "2027-06-07", "end_date": "2027-07-07"},
    )
    assert len(data["days"]) == 31


# ----------------------------------------------------------------------- updateStaffSchedule

NEW_WEEK = {
    "monday": [{"start": "13:00", "end": "18:00"}],
    "tuesday": [
        {"start": "14:00", "end": "18:00", "breaks": [{"start": "15:00", "end": "15:15"}]},
        {"start": "09:00", "end": "13:00"},
    ],
}


def test_update_schedule_replaces_the_week_and_reports_appointments_that_no_longer_fit(
    owner, anna, herren, damen, tenant
):
    monday_morning = appointment(anna, damen, at(MONDAY, "10:00"))
    appointment(anna, herren, at(TUESDAY, "10:00"))  # fits 09:00–13:00
    in_break = appointment(anna, herren, at(TUESDAY, "15:00"))  # the new break
    day_off = appointment(anna, herren, at(WEDNESDAY, "10:00"), status=AppointmentStatus.PENDING)
    appointment(anna, herren, at(MONDAY, "11:00"), status=AppointmentStatus.CANCELLED)
    appointment(anna, herren, at(dt.date(2027, 6, 1), "10:00"), status="completed")  # past

    data = ok(owner, "staff.updateStaffSchedule", {"staff_id": anna.pk, "schedule": NEW_WEEK})

    assert data == {
        "staff_id": anna.pk,
        "schedule": {
            "monday": [{"start": "13:00", "end": "18:00", "breaks": []}],
            "tuesday": [
                {"start": "09:00", "end": "13:00", "breaks": []},
                {"start": "14:00", "end": "18:00", "breaks": [{"start": "15:00", "end": "15:15"}]},
            ],
            "wednesday": [],
            "thursday": [],
            "friday": [],
            "saturday": [],
            "sunday": [],
        },
        "conflicting_appointments": [
            {
                "id": item.pk,
                "confirmation_number": item.confirmation_number,
                "start_time": item.start_time.astimezone(BERLIN).isoformat(),
                "end_time": item.end_time.astimezone(BERLIN).isoformat(),
                "status": item.status,
            }
            for item in (monday_morning, in_break, day_off)
        ],
    }
    assert hours_of(anna) == [
        (0, "13:00", "18:00", []),
        (1, "09:00", "13:00", []),
        (1, "14:00", "18:00", [{"start": "15:00", "end": "15:15"}]),
    ]
    (row,) = [row for row in audit_rows(tenant) if row[0] == "staff.schedule_updated"]
    old, new = row[2]["schedule"]
    assert row[1] == str(anna.pk)
    assert old["monday"] == [
        {"start": "09:00", "end": "18:00", "breaks": [{"start": "12:30", "end": "13:00"}]}
    ]
    assert new == data["schedule"]
    # The appointments are reported, not touched.
    monday_morning.refresh_from_db()
    assert monday_morning.status == AppointmentStatus.CONFIRMED


def test_update_schedule_clears_the_cached_hours(owner, anna, django_capture_on_commit_callbacks):
    args = {"staff_id": anna.pk, "start_date": "2027-06-07"}
    before = ok(owner, "staff.getStaffAvailability", args)["days"][0]["working_hours"]
    assert before[0]["start"] == "2027-06-07T09:00:00+02:00"
    # The engine caches the week: a write behind the services' back is not seen.
    WorkingHours.objects.all_tenants().filter(staff=anna, weekday=0).update(start_time=dt.time(10))
    assert ok(owner, "staff.getStaffAvailability", args)["days"][0]["working_hours"] == before

    with django_capture_on_commit_callbacks(execute=True):
        ok(owner, "staff.updateStaffSchedule", {"staff_id": anna.pk, "schedule": NEW_WEEK})

    after = ok(owner, "staff.getStaffAvailability", args)["days"][0]
    assert after["working_hours"] == [
        {"start": "2027-06-07T13:00:00+02:00", "end": "2027-06-07T18:00:00+02:00"}
    ]
    assert after["total_available_minutes"] == 300


def test_an_unchanged_schedule_writes_nothing(
    owner, anna, tenant, django_capture_on_commit_callbacks
):
    week = {
        day: [{"start": "09:00", "end": "18:00", "breaks": [{"start": "12:30", "end": "13:00"}]}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    }
    rows = list(WorkingHours.objects.all_tenants().filter(staff=anna).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks() as callbacks:
        data = ok(owner, "staff.updateStaffSchedule", {"staff_id": anna.pk, "schedule": week})
    assert data["schedule"]["monday"] == week["monday"]
    assert (
        list(WorkingHours.objects.all_tenants().filter(staff=anna).values_list("pk", flat=True))
        == rows
    )
    assert audit_rows(tenant) == []
    assert callbacks == []


@pytest.mark.parametrize(
    ("schedule", "details"),
    [
        ({"mondey": []}, {"schedule.mondey": ["Unknown field."]}),
        (
            {"monday": [{"start": "9:00", "end": "18:00"}]},
            {"schedule.monday.0.start": ["'9:00' is not a time as HH:MM"]},
        ),
        (
            {"monday": [{"start": "09:00"}]},
            {"schedule.monday.0.end": ["Field required"]},
        ),
        (
            {"monday": [{"start": "18:00", "end": "09:00"}]},
            {"schedule.monday.0.end": ["Must be after start."]},
        ),
        (
            {"monday": [{"start": "09:00", "end": "24:00"}]},
            {"schedule.monday.0.end": ["'24:00' is not a time as HH:MM"]},
        ),
        (
            {
                "monday": [
                    {
                        "start": "09:00",
                        "end": "12:00",
                        "breaks": [{"start": "11:30", "end": "12:30"}],
                    }
                ]
            },
            {"schedule.monday.0.breaks": ["break 1: must lie inside 09:00–12:00"]},
        ),
        (
            {
                "tuesday": [
                    {
                        "start": "09:00",
                        "end": "18:00",
                        "breaks": [
                            {"start": "12:00", "end": "13:00"},
                            {"start": "12:30", "end": "13:30"},
                        ],
                    }
                ]
            },
            {"schedule.tuesday.0.breaks": ["breaks must not overlap"]},
        ),
        (
            {"friday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}]},
            {"schedule.friday": ["Working periods 09:00–13:00 and 12:00–18:00 overlap."]},
        ),
        (
            {
                "monday": [{"start": "18:00", "end": "09:00"}],
                "sunday": [{"start": "10:00", "end": "25:00"}],
            },
            {
                "schedule.monday.0.end": ["Must be after start."],
                "schedule.sunday.0.end": ["'25:00' is not a time as HH:MM"],
            },
        ),
    ],
)
def test_update_schedule_refuses_bad_weeks_field_by_field_and_writes_nothing(
    owner, anna, tenant, schedule, details
):
    before = hours_of(anna)
    assert failed(
        owner, "staff.updateStaffSchedule", {"staff_id": anna.pk, "schedule": schedule}
    ) == ("VALIDATION_FAILED", details)
    assert hours_of(anna) == before
    assert audit_rows(tenant) == []


def test_the_schedule_service_checks_weekday_names_itself(tenant, anna):
    with pytest.raises(InvalidSchedule) as caught:
        services.staff_schedule_update(
            tenant=tenant, actor="test", staff_id=anna.pk, schedule={"funday": [], "monday": "x"}
        )
    assert caught.value.details == {
        "schedule.funday": [
            "Unknown weekday; use one of monday, tuesday, wednesday, thursday, friday, "
            "saturday, sunday."
        ],
        "schedule.monday": ["Must be a list of {start, end, breaks}."],
    }


def test_schedule_and_block_writes_need_manage_staff(tenant, anna):
    before = hours_of(anna)
    for role in (Role.READONLY, Role.STAFF):
        principal = principal_for(tenant, role)
        assert (
            failed(
                principal, "staff.updateStaffSchedule", {"staff_id": anna.pk, "schedule": NEW_WEEK}
            )[0]
            == "PERMISSION_DENIED"
        )
        assert (
            failed(
                principal,
                "staff.blockStaffTime",
                {
                    "staff_id": anna.pk,
                    "start_time": "2027-06-07T09:00",
                    "end_time": "2027-06-07T10:00",
                },
            )[0]
            == "PERMISSION_DENIED"
        )
    assert hours_of(anna) == before
    assert not TimeBlock.objects.all_tenants().exists()
    assert audit_rows(tenant) == []
    ok(principal_for(tenant, Role.MANAGER), "staff.updateStaffSchedule",
       {"staff_id": anna.pk, "schedule": NEW_WEEK})  # fmt: skip
    assert hours_of(anna) != before


# ------------------------------------------------------------------------ findAvailableStaff


def test_find_available_staff_best_first_with_recommendations(
    owner, anna, ben, branch, herren, damen
):
    carl = StaffFactory(branch=branch, tenant=branch.tenant, name="Carl", rating=Decimal("5.00"))
    StaffServiceFactory(staff=carl, tenant=carl.tenant, service=herren, skill_level=5)
    working_week(carl)
    appointment(carl, herren, at(MONDAY, "10:00"))  # busy then
    for day in (dt.date(2027, 5, 10), dt.date(2027, 5, 11)):
        appointment(anna, damen, at(day, "10:00"), status=AppointmentStatus.COMPLETED)

    data = ok(
        owner,
        "staff.findAvailableStaff",
        {"service_id": herren.pk, "start_time": "2027-06-07T10:00:00"},  # naive: Berlin
    )

    assert (data["start_time"], data["end_time"], data["count"]) == (
        "2027-06-07T10:00:00+02:00",
        "2027-06-07T10:30:00+02:00",
        2,
    )
    assert [member["id"] for member in data["staff"]] == [anna.pk, ben.pk]
    assert data["staff"][0]["services"][1] == {
        "service_id": herren.pk,
        "name": "Herrenhaarschnitt",
        "skill_level": 5,
    }
    assert data["recommendations"] == [
        {
            "staff_id": anna.pk,
            "name": "Anna Becker",
            "skill_level": 5,
            "rating": 4.8,
            "completed_services": 2,
            "score": 89.2,  # 60·5/5 + 30·4.8/5 + 10·2/50
            "reasons": [
                "free at 10:00",
                "skill level 5/5 for Herrenhaarschnitt",
                "rating 4.80/5",
                "2 completed appointments",
            ],
        },
        {
            "staff_id": ben.pk,
            "name": "Ben Wolf",
            "skill_level": 3,
            "rating": 4.2,
            "completed_services": 0,
            "score": 61.2,
            "reasons": [
                "free at 10:00",
                "skill level 3/5 for Herrenhaarschnitt",
                "rating 4.20/5",
                "0 completed appointments",
            ],
        },
    ]
    # An aware start is taken as it is, and answered in the branch's zone.
    utc = ok(
        owner,
        "staff.findAvailableStaff",
        {"service_id": herren.pk, "start_time": "2027-06-07T08:00:00Z", "branch_ids": [branch.pk]},
    )
    assert utc["start_time"] == "2027-06-07T10:00:00+02:00"
    assert [member["id"] for member in utc["staff"]] == [anna.pk, ben.pk]


def test_find_available_staff_respects_duration_and_breaks(owner, anna, ben, herren):
    # 12:00 + 60 minutes runs into the break.
    data = ok(
        owner,
        "staff.findAvailableStaff",
        {"service_id": herren.pk, "start_time": "2027-06-07T12:00:00", "duration": 60},
    )
    assert data["staff"] == [] and data["recommendations"] == [] and data["count"] == 0


def test_find_available_staff_refuses_foreign_ids(owner, anna, herren):
    foreign_branch = BranchFactory()
    foreign_service = ServiceFactory()
    assert failed(
        owner,
        "staff.findAvailableStaff",
        {
            "service_id": herren.pk,
            "start_time": "2027-06-07T10:00",
            "branch_ids": [foreign_branch.pk],
        },
    ) == ("RESOURCE_NOT_FOUND", {"branch_ids": [foreign_branch.pk]})
    assert failed(
        owner,
        "staff.findAvailableStaff",
        {"service_id": foreign_service.pk, "start_time": "2027-06-07T10:00"},
    ) == ("RESOURCE_NOT_FOUND", {"service_id": foreign_service.pk})
    assert failed(
        owner,
        "staff.findAvailableStaff",
        {"service_id": herren.pk, "start_time": "2027-06-07T10:00", "duration": 10},
    ) == ("VALIDATION_FAILED", {"duration": ["Input should be greater than or equal to 15"]})


# ---------------------------------------------------------------------- assignStaffToService


def test_assign_staff_to_service_is_an_idempotent_upsert(
    owner, ben, herren, damen, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        data = ok(owner, "staff.assignStaffToService", {"staff_id": ben.pk, "service_id": damen.pk})
    assert data == {
        "staff_id": ben.pk,
        "services": [
            {"service_id": damen.pk, "name": "Damenhaarschnitt", "skill_level": 3},
            {"service_id": herren.pk, "name": "Herrenhaarschnitt", "skill_level": 3},
        ],
    }
    assert callbacks  # the schedule cache is cleared (again) on commit

    again = ok(owner, "staff.assignStaffToService", {"staff_id": ben.pk, "service_id": damen.pk})
    assert again == data
    raised = ok(
        owner,
        "staff.assignStaffToService",
        {"staff_id": ben.pk, "service_id": damen.pk, "skill_level": 5},
    )
    assert raised["services"][0]["skill_level"] == 5
    assert StaffService.objects.all_tenants().filter(staff=ben, service=damen).count() == 1
    assert audit_rows(tenant) == [
        ("staff.service_assigned", str(ben.pk), {"skill_level": {str(damen.pk): [None, 3]}}),
        ("staff.service_assigned", str(ben.pk), {"skill_level": {str(damen.pk): [3, 5]}}),
    ]


def test_assign_staff_to_service_refuses_a_service_not_offered_at_the_branch(
    owner, ben, damen, tenant
):
    damen.branches.set([BranchFactory(tenant=tenant, name="Hamburg")])
    assert failed(
        owner, "staff.assignStaffToService", {"staff_id": ben.pk, "service_id": damen.pk}
    ) == (
        "VALIDATION_FAILED",
        {"service_id": ["'Damenhaarschnitt' is not offered at the staff member's branch."]},
    )
    assert failed(
        owner,
        "staff.assignStaffToService",
        {"staff_id": ben.pk, "service_id": damen.pk, "skill_level": 6},
    ) == ("VALIDATION_FAILED", {"skill_level": ["Input should be less than or equal to 5"]})
    assert not StaffService.objects.all_tenants().filter(staff=ben, service=damen).exists()
    assert audit_rows(tenant) == []
    damen.branches.add(ben.branch)
    ok(owner, "staff.assignStaffToService", {"staff_id": ben.pk, "service_id": damen.pk})


# ------------------------------------------------------------------------- updateStaffSkills


def test_update_staff_skills_sets_listed_levels_and_keeps_the_rest(
    owner, anna, herren, damen, tenant
):
    colour = ServiceFactory(tenant=tenant, name="Färben")
    data = ok(
        owner,
        "staff.updateStaffSkills",
        {
            "staff_id": anna.pk,
            "skills": [
                {"service_id": damen.pk, "skill_level": 2},
                {"service_id": colour.pk, "skill_level": 4},
            ],
        },
    )
    assert data["services"] == [
        {"service_id": damen.pk, "name": "Damenhaarschnitt", "skill_level": 2},
        {"service_id": colour.pk, "name": "Färben", "skill_level": 4},
        {"service_id": herren.pk, "name": "Herrenhaarschnitt", "skill_level": 5},
    ]
    assert audit_rows(tenant) == [
        (
            "staff.skills_updated",
            str(anna.pk),
            {"skill_level": {str(damen.pk): [4, 2], str(colour.pk): [None, 4]}},
        )
    ]


def test_update_staff_skills_is_all_or_nothing(owner, anna, herren, damen, tenant):
    foreign = ServiceFactory()

    def skill(service: Any, level: int) -> dict[str, int]:
        return {"service_id": service.pk, "skill_level": level}

    cases = [
        (
            [skill(damen, 1), skill(damen, 2)],
            "VALIDATION_FAILED",
            {"skills.1.service_id": [f"Service {damen.pk} is listed twice."]},
        ),
        (
            [skill(damen, 1), skill(foreign, 2)],
            "RESOURCE_NOT_FOUND",
            {"skills.1.service_id": foreign.pk},
        ),
        (
            [skill(damen, 0)],
            "VALIDATION_FAILED",
            {"skills.0.skill_level": ["Input should be greater than or equal to 1"]},
        ),
        (
            [],
            "VALIDATION_FAILED",
            {"skills": ["List should have at least 1 item after validation, not 0"]},
        ),
    ]
    for skills, error_type, details in cases:
        args = {"staff_id": anna.pk, "skills": skills}
        assert failed(owner, "staff.updateStaffSkills", args) == (error_type, details)
    assert StaffService.objects.all_tenants().get(staff=anna, service=damen).skill_level == 4
    assert audit_rows(tenant) == []


# -------------------------------------------------------------------------- getStaffWorkload


def test_staff_workload_of_a_branch_week(owner, anna, ben, branch, herren, damen):
    appointment(anna, damen, at(MONDAY, "10:00"))
    appointment(anna, herren, at(TUESDAY, "10:00"), status=AppointmentStatus.PENDING)
    appointment(anna, herren, at(TUESDAY, "11:00"), status=AppointmentStatus.CANCELLED)
    StaffFactory(branch=branch, tenant=branch.tenant, name="Inaktiv", is_active=False)

    data = ok(
        owner,
        "staff.getStaffWorkload",
        {"branch_id": branch.pk, "date_from": "2027-06-07", "date_to": "2027-06-11"},
    )

    assert data == {
        "date_from": "2027-06-07",
        "date_to": "2027-06-11",
        "staff": [
            {
                "staff_id": anna.pk,
                "name": "Anna Becker",
                "branch_id": branch.pk,
                "appointments": 2,
                "booked_minutes": 90,
                "available_minutes": 5 * DAY_MINUTES - 90,
                "utilisation": 0.0353,  # 90 / 2550
            },
            {
                "staff_id": ben.pk,
                "name": "Ben Wolf",
                "branch_id": branch.pk,
                "appointments": 0,
                "booked_minutes": 0,
                "available_minutes": 5 * DAY_MINUTES,
                "utilisation": 0.0,
            },
        ],
    }


def test_staff_workload_counts_appointments_that_took_place(owner, anna, ben, herren):
    monday = dt.date(2027, 5, 31)
    appointment(anna, herren, at(monday, "10:00"), status=AppointmentStatus.COMPLETED)
    appointment(anna, herren, at(monday, "11:00"), status=AppointmentStatus.NO_SHOW)

    data = ok(
        owner,
        "staff.getStaffWorkload",
        {"staff_id": anna.pk, "date_from": "2027-05-31", "date_to": "2027-06-01"},
    )

    assert data["staff"] == [
        {
            "staff_id": anna.pk,
            "name": "Anna Becker",
            "branch_id": anna.branch_id,
            "appointments": 2,
            "booked_minutes": 60,
            "available_minutes": 2 * DAY_MINUTES - 60,
            "utilisation": 0.0588,
        }
    ]
    assert failed(
        owner,
        "staff.getStaffWorkload",
        {"date_from": "2027-06-01", "date_to": "2027-07-02"},
    ) == ("VALIDATION_FAILED", {"date_to": ["Value error, the range may span at most 31 days"]})


# ----------------------------------------------------------------------- getStaffPerformance


@pytest.fixture
def history(anna, herren, damen) -> None:
    """Anna's May: 3 completed (29 + 49 + 55.50), 1 no-show, 1 cancelled; plus one completed
    in April and one confirmed in June, both outside the default range."""
    appointment(anna, herren, at(dt.date(2027, 5, 10), "10:00"), status="completed")
    appointment(anna, damen, at(dt.date(2027, 5, 11), "10:00"), status="completed")
    appointment(
        anna, damen, at(dt.date(2027, 5, 12), "10:00"), status="completed", price=Decimal("55.50")
    )
    appointment(anna, herren, at(dt.date(2027, 5, 13), "10:00"), status="no_show")
    appointment(anna, herren, at(dt.date(2027, 5, 14), "10:00"), status="cancelled")
    appointment(anna, damen, at(dt.date(2027, 4, 20), "10:00"), status="completed")
    appointment(anna, damen, at(MONDAY, "10:00"))


def test_staff_performance_of_the_last_30_days(owner, anna, history):
    data = ok(owner, "staff.getStaffPerformance", {"staff_id": anna.pk})

    # 2027-05-04 (Tue) … 2027-06-02 (Wed): 22 working days of 510 minutes = 11220; the
    # appointments that took place occupied 30 + 60 + 60 + 30 = 180 of them.
    assert data == {
        "staff_id": anna.pk,
        "name": "Anna Becker",
        "date_from": "2027-05-04",
        "date_to": "2027-06-02",
        "bookings": 5,
        "completed": 3,
        "no_shows": 1,
        "cancellations": 1,
        "revenue": "133.50",
        "currency": "EUR",
        "utilisation": 0.016,  # 180 / 11220
        "completion_rate": 0.6,
    }


def test_staff_performance_of_a_given_range(owner, anna, history):
    data = ok(
        owner,
        "staff.getStaffPerformance",
        {"staff_id": anna.pk, "date_from": "2027-05-11", "date_to": "2027-05-12"},
    )
    assert (
        data["bookings"],
        data["completed"],
        data["revenue"],
        data["utilisation"],
        data["completion_rate"],
    ) == (2, 2, "104.50", 0.1176, 1.0)  # 120 / 1020
    empty = ok(
        owner,
        "staff.getStaffPerformance",
        {"staff_id": anna.pk, "date_from": "2027-05-15", "date_to": "2027-05-16"},
    )
    assert (
        empty["bookings"],
        empty["revenue"],
        empty["utilisation"],
        empty["completion_rate"],
    ) == (
        0,
        "0.00",
        0.0,
        0.0,
    )
    assert failed(
        owner,
        "staff.getStaffPerformance",
        {"staff_id": anna.pk, "date_from": "2027-05-12", "date_to": "2027-05-11"},
    ) == ("VALIDATION_FAILED", {"date_to": ["Value error, must not be before the start date"]})


# ---------------------------------------------------------------------------- blockStaffTime


def test_block_staff_time_reports_overlapping_appointments(
    owner, anna, damen, herren, tenant, django_capture_on_commit_callbacks
):
    inside = appointment(anna, damen, at(MONDAY, "10:00"))
    appointment(anna, herren, at(MONDAY, "12:00"))  # right after the block
    appointment(anna, herren, at(MONDAY, "09:00"), status=AppointmentStatus.CANCELLED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        data = ok(
            owner,
            "staff.blockStaffTime",
            {
                "staff_id": anna.pk,
                "start_time": "2027-06-07T09:00:00",
                "end_time": "2027-06-07T12:00:00",
                "kind": "training",
                "reason": "Farbseminar",
            },
        )

    block = TimeBlock.objects.all_tenants().get()
    assert data == {
        "time_block": {
            "id": block.pk,
            "staff_id": anna.pk,
            "start_time": "2027-06-07T09:00:00+02:00",
            "end_time": "2027-06-07T12:00:00+02:00",
            "kind": "training",
            "reason": "Farbseminar",
        },
        "conflicting_appointments": [
            {
                "id": inside.pk,
                "confirmation_number": inside.confirmation_number,
                "start_time": "2027-06-07T10:00:00+02:00",
                "end_time": "2027-06-07T11:00:00+02:00",
                "status": "confirmed",
            }
        ],
    }
    assert callbacks
    assert audit_rows(tenant) == [
        (
            "staff.time_blocked",
            str(block.pk),
            {
                "staff_id": anna.pk,
                "start_time": "2027-06-07T09:00:00+02:00",
                "end_time": "2027-06-07T12:00:00+02:00",
                "kind": "training",
            },
        )
    ]
    monday = ok(
        owner, "staff.getStaffAvailability", {"staff_id": anna.pk, "start_date": "2027-06-07"}
    )["days"][0]
    assert monday["free_slots"][0]["start"] == "2027-06-07T13:00:00+02:00"
    assert monday["total_available_minutes"] == DAY_MINUTES - 180 - 30


def test_block_staff_time_validates_and_writes_nothing(owner, anna, tenant):
    cases = [
        ({"start_time": "2027-06-07T12:00", "end_time": "2027-06-07T09:00"},
         {"end_time": ["Must be after start_time."]}),
        ({"start_time": "2027-06-07T12:00", "end_time": "2028-06-09T09:00"},
         {"end_time": ["A block may last at most 366 days."]}),
        ({"start_time": "2027-06-07T09:00", "end_time": "2027-06-07T12:00", "kind": "party"},
         {"kind": ["Input should be 'absence', 'vacation', 'sick', 'training' or 'manual'"]}),
    ]  # fmt: skip
    for args, details in cases:
        assert failed(owner, "staff.blockStaffTime", {"staff_id": anna.pk, **args}) == (
            "VALIDATION_FAILED",
            details,
        )
    assert not TimeBlock.objects.all_tenants().exists()
    assert audit_rows(tenant) == []


# --------------------------------------------------------------------------------- isolation


def test_another_tenants_staff_is_not_found_and_not_changed(owner, anna, herren, foreign_staff):
    before = hours_of(foreign_staff)
    args_by_operation = {
        "staff.getStaffAvailability": {"start_date": "2027-06-07"},
        "staff.updateStaffSchedule": {"schedule": NEW_WEEK},
        "staff.assignStaffToService": {"service_id": herren.pk},
        "staff.updateStaffSkills": {"skills": [{"service_id": herren.pk, "skill_level": 2}]},
        "staff.getStaffPerformance": {},
        "staff.getStaffWorkload": {"date_from": "2027-06-07", "date_to": "2027-06-07"},
        "staff.blockStaffTime": {"start_time": "2027-06-07T09:00", "end_time": "2027-06-07T10:00"},
    }
    for name, args in args_by_operation.items():
        assert failed(owner, name, {"staff_id": foreign_staff.pk, **args}) == (
            "RESOURCE_NOT_FOUND",
            {"staff_id": foreign_staff.pk},
        ), name
    assert hours_of(foreign_staff) == before
    assert not StaffService.objects.all_tenants().filter(staff=foreign_staff).exists()
    assert not TimeBlock.objects.all_tenants().exists()
    listed = ok(owner, "staff.listStaff")
    assert [member["id"] for member in listed["staff"]] == [anna.pk]
    assert ok(owner, "staff.listStaff", {"branch_id": foreign_staff.branch_id})["staff"] == []
    assert failed(
        owner,
        "staff.getStaffWorkload",
        {"branch_id": foreign_staff.branch_id, "date_from": "2027-06-07", "date_to": "2027-06-07"},
    ) == ("RESOURCE_NOT_FOUND", {"branch_id": foreign_staff.branch_id})


# ------------------------------------------------------------------------------------- REST


def test_rest_staff_routes(client, tenant, anna, ben, herren, damen, foreign_staff):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    appointment(anna, damen, at(dt.date(2027, 5, 10), "10:00"), status="completed")

    listed = client.get(f"/api/v2/mcp/staff?service_id={damen.pk}", **auth)
    assert listed.status_code == 200
    assert listed.json() == {
        "staff": [anna_json(anna, herren, damen)],
        "count": 1,
        "page": 1,
        "next_page": None,
    }

    availability = client.get(
        f"/api/v2/mcp/staff/{anna.pk}/availability?start_date=2027-06-07&end_date=2027-06-08",
        **auth,
    )
    assert availability.status_code == 200
    assert [day["date"] for day in availability.json()["days"]] == ["2027-06-07", "2027-06-08"]
    assert availability.json()["total_available_minutes"] == 2 * DAY_MINUTES

    updated = client.put(
        f"/api/v2/mcp/staff/{anna.pk}/schedule",
        data=json.dumps({"schedule": NEW_WEEK}),
        content_type="application/json",
        **auth,
    )
    assert updated.status_code == 200
    assert updated.json()["schedule"]["monday"] == [
        {"start": "13:00", "end": "18:00", "breaks": []}
    ]
    assert hours_of(anna)[0] == (0, "13:00", "18:00", [])
    bad = client.put(
        f"/api/v2/mcp/staff/{anna.pk}/schedule",
        data=json.dumps({"schedule": {"monday": [{"start": "18:00", "end": "09:00"}]}}),
        content_type="application/json",
        **auth,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"schedule.monday.0.end": ["Must be after start."]}

    performance = client.get(
        f"/api/v2/mcp/staff/{anna.pk}/performance?date_from=2027-05-01&date_to=2027-05-31", **auth
    )
    assert performance.status_code == 200
    assert (performance.json()["completed"], performance.json()["revenue"]) == (1, "49.00")

    for path in (
        f"/api/v2/mcp/staff/{foreign_staff.pk}/availability?start_date=2027-06-07",
        f"/api/v2/mcp/staff/{foreign_staff.pk}/performance",
    ):
        response = client.get(path, **auth)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "RESOURCE_NOT_FOUND"
    response = client.put(
        f"/api/v2/mcp/staff/{foreign_staff.pk}/schedule",
        data=json.dumps({"schedule": NEW_WEEK}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 404


def test_rest_readonly_key_cannot_change_a_schedule(client, tenant, anna):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role=Role.READONLY)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    before = hours_of(anna)
    response = client.put(
        f"/api/v2/mcp/staff/{anna.pk}/schedule",
        data=json.dumps({"schedule": NEW_WEEK}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "PERMISSION_DENIED"
    assert hours_of(anna) == before
    assert client.get("/api/v2/mcp/staff", **auth).status_code == 200


@pytest.mark.parametrize(
    ("operation", "args", "field"),
    [
        ("staff.getStaffAvailability", {"start_date": 1804550400}, "start_date"),
        ("staff.getStaffWorkload", {"date_from": 1804550400, "date_to": "2027-03-09"}, "date_from"),
        (
            "staff.blockStaffTime",
            {"start_time": 1804550400, "end_time": "2027-03-08T12:00:00"},
            "start_time",
        ),
        (
            "staff.blockStaffTime",
            {"start_time": "2027-03-08", "end_time": "2027-03-09"},
            "start_time",
        ),
    ],
)
def test_times_are_iso_text_not_unix_timestamps_or_bare_dates(owner, anna, operation, args, field):
    error_type, details = failed(owner, operation, {"staff_id": anna.pk, **args})

    assert error_type == "VALIDATION_FAILED"
    assert field in details
