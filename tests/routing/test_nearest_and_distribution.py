"""routing.findNearestBranch and routing.getCallDistribution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing import selectors
from routing.enums import CallOutcome
from routing.geo import Point, haversine_km
from tests.factories import (
    BranchFactory,
    CallLogFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
)
from tests.operations import failed, ok
from tests.routing.support import BERLIN, SUNDAY

pytestmark = pytest.mark.django_db

ALEXANDERPLATZ = {"lat": 52.521918, "lng": 13.413215}


def km(a: Point, lat: str, lng: str) -> float:
    return round(haversine_km(a, Point(float(lat), float(lng))), 1)


def test_haversine_matches_a_known_distance():
    # One degree along the equator and a quarter meridian on the mean-radius sphere.
    assert round(haversine_km(Point(0, 0), Point(0, 1)), 3) == 111.195
    assert round(haversine_km(Point(0, 0), Point(90, 0)), 1) == 10007.6
    # Berlin Mitte → Hamburg Altona, symmetric.
    berlin, hamburg = Point(52.520008, 13.404954), Point(53.550341, 9.935170)
    assert 250 < haversine_km(berlin, hamburg) == haversine_km(hamburg, berlin) < 260
    assert haversine_km(Point(52.5, 13.4), Point(52.5, 13.4)) == 0


def test_nearest_first_within_the_radius(owner, tenant, berlin, hamburg):
    potsdam = BranchFactory(
        tenant=tenant, name="Potsdam", latitude=Decimal("52.390569"), longitude=Decimal("13.064473")
    )
    BranchFactory(tenant=tenant, name="Ohne Koordinaten", latitude=None, longitude=None)
    BranchFactory(tenant=tenant, name="Inaktiv", is_active=False)
    BranchFactory(name="Fremd")  # another tenant's branch in Berlin Mitte
    origin = Point(**ALEXANDERPLATZ)
    data = ok(owner, "routing.findNearestBranch", {"location": ALEXANDERPLATZ})
    assert data == {
        "branches": [
            {
                "id": berlin.pk,
                "name": "Berlin Mitte",
                "address": "Friedrichstraße 123, 10117 Berlin",
                "distance_km": km(origin, "52.520008", "13.404954"),
                "available_now": True,
            },
            {
                "id": potsdam.pk,
                "name": "Potsdam",
                "address": "Berlin",
                "distance_km": km(origin, "52.390569", "13.064473"),
                "available_now": True,
            },
        ],
        "total_found": 2,
    }
    wide = ok(owner, "routing.findNearestBranch", {"location": ALEXANDERPLATZ, "max_distance": 300})
    assert [b["id"] for b in wide["branches"]] == [berlin.pk, potsdam.pk, hamburg.pk]
    near = ok(owner, "routing.findNearestBranch", {"location": ALEXANDERPLATZ, "max_distance": 5})
    assert [b["id"] for b in near["branches"]] == [berlin.pk]


def test_at_most_five_and_available_now_by_hours(owner, tenant, berlin, hamburg):
    for index in range(6):
        BranchFactory(tenant=tenant, name=f"Mitte {index}", latitude=Decimal(f"52.52{index}"))
    data = ok(owner, "routing.findNearestBranch", {"location": ALEXANDERPLATZ})
    assert data["total_found"] == 5
    distances = [b["distance_km"] for b in data["branches"]]
    assert distances == sorted(distances)
    with time_machine.travel(SUNDAY, tick=False):
        data = ok(owner, "routing.findNearestBranch", {"location": ALEXANDERPLATZ})
    assert {b["available_now"] for b in data["branches"]} == {False}


def test_nearest_costs_two_queries_whatever_the_branches(
    tenant, berlin, hamburg, django_assert_max_num_queries
):
    service = ServiceFactory(tenant=tenant)
    for index in range(8):
        branch = BranchFactory(tenant=tenant, name=f"Filiale {index}")
        StaffServiceFactory(staff=StaffFactory(branch=branch), service=service)
    with django_assert_max_num_queries(2):
        nearby = selectors.branch_nearest_list(
            tenant=tenant,
            origin=Point(**ALEXANDERPLATZ),
            max_distance_km=50,
            now=timezone.now(),
            service_id=service.pk,
        )
    assert len(nearby) == 5


def test_service_filter_needs_an_active_qualified_staff_member(owner, tenant, berlin, hamburg):
    service = ServiceFactory(tenant=tenant)
    StaffServiceFactory(staff=StaffFactory(branch=hamburg), service=service)
    StaffServiceFactory(staff=StaffFactory(branch=berlin, is_active=False), service=service)
    args = {"location": ALEXANDERPLATZ, "max_distance": 300, "service_id": service.pk}
    assert [b["id"] for b in ok(owner, "routing.findNearestBranch", args)["branches"]] == [
        hamburg.pk
    ]
    foreign = ServiceFactory()
    for service_id in (foreign.pk, 999_999):
        error, details = failed(
            owner, "routing.findNearestBranch", args | {"service_id": service_id}
        )
        assert (error, details) == ("RESOURCE_NOT_FOUND", {"service_id": service_id})


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"location": {"lat": 91, "lng": 0}}, "location.lat"),
        ({"location": {"lat": 52}}, "location.lng"),
        ({"location": ALEXANDERPLATZ, "max_distance": 0}, "max_distance"),
        ({}, "location"),
    ],
)
def test_nearest_input_is_validated(owner, args, field):
    error, details = failed(owner, "routing.findNearestBranch", args)
    assert error == "VALIDATION_FAILED"
    assert field in details


# ----------------------------------------------------------------------- call distribution


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, minute, tzinfo=BERLIN)


def logs(branch, *specs):
    for started, outcome in specs:
        CallLogFactory(branch=branch, started_at=started, outcome=outcome)


def test_distribution_counts_per_branch_hour_and_outcome(owner, tenant, berlin, hamburg):
    logs(
        berlin,
        (at(1, 9, 5), CallOutcome.BOOKED),
        (at(1, 9, 55), CallOutcome.BOOKED),
        (at(2, 9, 30), CallOutcome.NO_BOOKING),
    )
    logs(hamburg, (at(1, 14), CallOutcome.TRANSFERRED), (at(1, 23, 59), CallOutcome.FAILED))
    CallLogFactory(tenant=tenant, branch=None, started_at=at(2, 8), outcome=CallOutcome.UNKNOWN)
    logs(berlin, (at(3, 0, 0), CallOutcome.BOOKED), (at(31, 23, 59, month=5), CallOutcome.BOOKED))
    CallLogFactory(started_at=at(1, 9))  # another tenant

    data = ok(
        owner, "routing.getCallDistribution", {"date_from": "2027-06-01", "date_to": "2027-06-02"}
    )
    assert data["total_calls"] == 6
    assert sorted(
        data["by_branch"], key=lambda b: (b["branch_id"] is not None, b["branch_id"] or 0)
    ) == [
        {"branch_id": None, "calls": 1},
        {"branch_id": berlin.pk, "calls": 3},
        {"branch_id": hamburg.pk, "calls": 2},
    ]
    hours = {row["hour"]: row["calls"] for row in data["by_hour"]}
    assert len(data["by_hour"]) == 24
    assert {h: n for h, n in hours.items() if n} == {8: 1, 9: 3, 14: 1, 23: 1}
    assert data["by_outcome"] == {
        "booked": 2,
        "rescheduled": 0,
        "cancelled": 0,
        "no_booking": 1,
        "transferred": 1,
        "failed": 1,
        "unknown": 1,
    }
    assert (data["date_from"], data["date_to"], data["time_zone"]) == (
        "2027-06-01",
        "2027-06-02",
        "Europe/Berlin",
    )

    only_hamburg = ok(
        owner,
        "routing.getCallDistribution",
        {"date_from": "2027-06-01", "date_to": "2027-06-02", "branch_id": hamburg.pk},
    )
    assert only_hamburg["total_calls"] == 2
    assert only_hamburg["by_branch"] == [{"branch_id": hamburg.pk, "calls": 2}]


def test_hours_are_local_across_the_dst_change(owner, berlin):
    # 08:30 UTC is 09:30 in winter (CET) and 10:30 in summer (CEST).
    logs(
        berlin,
        (dt.datetime(2027, 3, 26, 8, 30, tzinfo=dt.UTC), CallOutcome.BOOKED),
        (dt.datetime(2027, 3, 29, 8, 30, tzinfo=dt.UTC), CallOutcome.BOOKED),
    )
    data = ok(
        owner, "routing.getCallDistribution", {"date_from": "2027-03-20", "date_to": "2027-03-31"}
    )
    assert {row["hour"]: row["calls"] for row in data["by_hour"] if row["calls"]} == {9: 1, 10: 1}


def test_default_range_is_the_last_30_days(owner, berlin):
    logs(berlin, (at(2, 9), CallOutcome.BOOKED), (at(4, 9, month=5), CallOutcome.BOOKED))
    data = ok(owner, "routing.getCallDistribution")
    assert (data["date_from"], data["date_to"], data["total_calls"]) == (
        "2027-05-04",
        "2027-06-02",
        2,
    )
    data = ok(owner, "routing.getCallDistribution", {"date_to": "2027-06-01"})
    assert (data["date_from"], data["total_calls"]) == ("2027-05-03", 1)


def test_distribution_input_errors(owner, berlin):
    foreign = BranchFactory()
    assert failed(owner, "routing.getCallDistribution", {"branch_id": foreign.pk}) == (
        "RESOURCE_NOT_FOUND",
        {"branch_id": foreign.pk},
    )
    error, details = failed(
        owner, "routing.getCallDistribution", {"date_from": "2027-06-02", "date_to": "2027-06-01"}
    )
    assert (error, details) == (
        "VALIDATION_FAILED",
        {"params": ["Value error, date_to must not be before date_from"]},
    )
    error, details = failed(owner, "routing.getCallDistribution", {"date_from": "2020-01-01"})
    assert error == "VALIDATION_FAILED"
    assert "date_from" in details


def test_distribution_costs_the_same_queries_for_many_calls(
    owner, berlin, hamburg, django_assert_max_num_queries
):
    args = {"date_from": "2027-06-01", "date_to": "2027-06-02"}
    logs(berlin, (at(1, 9), CallOutcome.BOOKED))
    with CaptureQueriesContext(connection) as few:
        ok(owner, "routing.getCallDistribution", args)
    for hour in range(8, 20):
        logs(berlin, (at(1, hour), CallOutcome.BOOKED), (at(2, hour), CallOutcome.NO_BOOKING))
        logs(hamburg, (at(1, hour, 30), CallOutcome.FAILED))
    with django_assert_max_num_queries(3):
        result = selectors.call_distribution(
            tenant=owner.tenant, date_from=dt.date(2027, 6, 1), date_to=dt.date(2027, 6, 2)
        )
    assert result.total_calls == 37
    with CaptureQueriesContext(connection) as many:
        assert ok(owner, "routing.getCallDistribution", args)["total_calls"] == 37
    assert len(many.captured_queries) == len(few.captured_queries)
