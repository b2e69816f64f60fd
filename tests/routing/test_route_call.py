"""routing.routeIncomingCall and routing.routeToFallback through the orchestrator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from mcp_core.operations import registry
from routing import services
from routing.enums import CallStatus, RoutingAction
from routing.geo import Point, haversine_km
from tests.factories import (
    BranchFactory,
    CallLogFactory,
    CompanyFactory,
    PhoneNumberFactory,
    RoutingRuleFactory,
)
from tests.operations import failed, ok, principal_for
from tests.routing.support import BERLIN, BERLIN_NUMBER, HAMBURG_NUMBER, SUNDAY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("numbers")]

ROUTING_OPERATIONS = {
    "routing.routeIncomingCall": "access-mcp",
    "routing.findNearestBranch": "access-mcp",
    "routing.getRoutingRules": "access-mcp",
    "routing.updateRoutingRules": "manage-routing",
    "routing.routeToFallback": "access-mcp",
    "routing.getCallDistribution": "access-mcp",
}
BERLIN_HAMBURG_KM = round(haversine_km(Point(52.520008, 13.404954), Point(53.550341, 9.935170)), 1)


def route(owner, number=BERLIN_NUMBER, **args):
    return ok(owner, "routing.routeIncomingCall", {"phone_number": number, **args})


def ongoing_calls(branch, count):
    for _ in range(count):
        CallLogFactory(
            branch=branch,
            status=CallStatus.ONGOING,
            started_at=timezone.now() - dt.timedelta(minutes=3),
        )


def test_all_six_operations_are_declared_with_their_permissions():
    declared = {op.name: str(op.permission) for op in registry if op.service == "routing"}
    assert declared == ROUTING_OPERATIONS


def test_open_branch_answers_its_own_number(owner, berlin):
    data = route(owner)
    assert data["routing_decision"] == "branch_specific"
    assert data["branch"] == {
        "id": berlin.pk,
        "name": "Berlin Mitte",
        "address": "Friedrichstraße 123, 10117 Berlin",
        "phone": "+4930120045670",
        "time_zone": "Europe/Berlin",
        "open_now": True,
        "opening_hours_today": "09:00–18:00",
    }
    assert data["agent"] == {
        "agent_id": "agent_berlin_de",
        "language": "de",
        "source": "phone_number",
    }
    assert data["estimated_wait_time"] == 0
    meta = data["routing_metadata"]
    assert meta["dialled_number"] == BERLIN_NUMBER
    assert meta["dialled_branch_id"] == berlin.pk
    assert meta["phone_number_matched"] is True
    assert (meta["branch_open"], meta["branch_overloaded"], meta["reason"]) == (True, False, "open")
    assert meta["matched_rule"] is None
    assert meta["decided_at"] == "2027-06-02T08:00:00+00:00"


def test_national_format_is_normalised(owner, berlin):
    assert route(owner, "030 12345670")["branch"]["id"] == berlin.pk


def test_malformed_number_is_a_validation_error(owner):
    assert failed(owner, "routing.routeIncomingCall", {"phone_number": "hallo"}) == (
        "VALIDATION_FAILED",
        {"phone_number": ["'hallo' is not a phone number"]},
    )


def test_unknown_and_other_tenants_numbers_are_404(owner):
    other = PhoneNumberFactory(branch=BranchFactory(), number="+498912345670")
    assert other.tenant_id != owner.tenant.pk
    for number in ("+498912345670", "+498912345679"):
        error, details = failed(owner, "routing.routeIncomingCall", {"phone_number": number})
        assert (error, details) == ("RESOURCE_NOT_FOUND", {"phone_number": number})


@pytest.mark.parametrize(
    ("instant", "open_now"),
    [
        # Spring forward on Sunday 2027-03-28: 09:00 Berlin is 08:00 UTC before, 07:00 after.
        (dt.datetime(2027, 3, 26, 7, 30, tzinfo=dt.UTC), False),  # Fri 08:30 CET
        (dt.datetime(2027, 3, 26, 8, 30, tzinfo=dt.UTC), True),  # Fri 09:30 CET
        (dt.datetime(2027, 3, 29, 7, 30, tzinfo=dt.UTC), True),  # Mon 09:30 CEST
        (dt.datetime(2027, 3, 29, 16, 30, tzinfo=dt.UTC), False),  # Mon 18:30 CEST
        # Fall back on Sunday 2027-10-31.
        (dt.datetime(2027, 10, 29, 16, 30, tzinfo=dt.UTC), False),  # Fri 18:30 CEST
        (dt.datetime(2027, 11, 1, 16, 30, tzinfo=dt.UTC), True),  # Mon 17:30 CET
        (dt.datetime(2027, 11, 1, 7, 30, tzinfo=dt.UTC), False),  # Mon 08:30 CET
    ],
)
def test_open_by_business_hours_in_berlin_across_dst(owner, berlin, hamburg, instant, open_now):
    hamburg.is_active = False  # no alternate: a closed Berlin falls back to itself
    hamburg.save()
    with time_machine.travel(instant, tick=False):
        data = route(owner)
    assert data["routing_metadata"]["branch_open"] is open_now
    assert data["routing_decision"] == ("branch_specific" if open_now else "fallback")
    assert data["branch"]["id"] == berlin.pk


def test_closed_branch_overflows_to_the_nearest_open_one(owner, berlin, hamburg):
    hamburg.business_hours = {
        **hamburg.business_hours,
        "sunday": {"open": "10:00", "close": "16:00"},
    }
    hamburg.save()
    with time_machine.travel(SUNDAY, tick=False):
        data = route(owner)
    assert data["routing_decision"] == "alternate_branch"
    assert data["branch"]["id"] == hamburg.pk
    assert data["branch"]["opening_hours_today"] == "10:00–16:00"
    assert data["agent"]["agent_id"] == "agent_hamburg_de"
    meta = data["routing_metadata"]
    assert (meta["reason"], meta["branch_open"], meta["dialled_branch_id"]) == (
        "closed",
        False,
        berlin.pk,
    )
    assert meta["distance_km"] == BERLIN_HAMBURG_KM


def test_alternate_is_nearest_to_the_caller_when_located(owner, tenant, berlin, hamburg):
    potsdam = BranchFactory(
        tenant=tenant, name="Potsdam", latitude=Decimal("52.390569"), longitude=Decimal("13.064473")
    )
    berlin.business_hours = {"monday": {"open": "09:00", "close": "10:00"}}
    berlin.save()
    # Without a location the nearest to the dialled branch (Potsdam) answers ...
    assert route(owner)["branch"]["id"] == potsdam.pk
    # ... a caller in Hamburg gets Hamburg.
    data = route(owner, caller_location={"lat": 53.5511, "lng": 9.9937})
    assert data["branch"]["id"] == hamburg.pk
    assert data["routing_metadata"]["distance_km"] == round(
        haversine_km(Point(53.5511, 9.9937), Point(53.550341, 9.935170)), 1
    )


def test_everything_closed_falls_back_to_the_dialled_branch(owner, berlin, hamburg):
    with time_machine.travel(SUNDAY, tick=False):
        data = route(owner, HAMBURG_NUMBER)
    assert data["routing_decision"] == "fallback"
    assert data["branch"]["id"] == hamburg.pk
    assert data["branch"]["opening_hours_today"] == "heute geschlossen"
    assert data["agent"] == {
        "agent_id": "agent_hamburg_de",
        "language": "de",
        "source": "phone_number",
    }
    meta = data["routing_metadata"]
    assert meta["reason"] == "closed_no_alternate"
    assert meta["fallback_number"] == "+4930120045670"


def test_overloaded_branch_hands_over_and_wait_time_is_estimated(owner, berlin, hamburg):
    berlin.settings = {"max_concurrent_calls": 2}
    berlin.save()
    ongoing_calls(berlin, 2)
    data = route(owner)
    assert data["routing_decision"] == "alternate_branch"
    assert data["branch"]["id"] == hamburg.pk
    assert data["routing_metadata"]["reason"] == "overloaded"
    assert data["routing_metadata"]["branch_overloaded"] is True
    assert data["estimated_wait_time"] == 0

    # Hamburg busy too: the fallback (Berlin) answers with a queue estimate from recent calls.
    hamburg.settings = {"max_concurrent_calls": 1}
    hamburg.save()
    ongoing_calls(hamburg, 1)
    ongoing_calls(berlin, 1)  # 3 ongoing on 2 lines: 2 callers queue
    for seconds in (200, 400):
        CallLogFactory(
            branch=berlin,
            status=CallStatus.ENDED,
            ended_at=timezone.now() - dt.timedelta(hours=1),
            duration_seconds=seconds,
        )
    # Stale "ongoing" calls (ended webhook lost) and old calls do not count.
    CallLogFactory(
        branch=berlin, status=CallStatus.ONGOING, started_at=timezone.now() - dt.timedelta(hours=5)
    )
    data = route(owner)
    assert data["routing_decision"] == "fallback"
    assert data["routing_metadata"]["reason"] == "overloaded_no_alternate"
    assert data["routing_metadata"]["ongoing_calls"] == 3
    assert data["estimated_wait_time"] == 300  # 2 queued × 300 s average / 2 lines


@override_settings(ROUTING_DEFAULT_HANDLE_SECONDS=240)
def test_wait_uses_the_default_handle_time_without_history(owner, berlin, hamburg):
    hamburg.is_active = False
    hamburg.save()
    berlin.settings = {"max_concurrent_calls": 1}
    berlin.save()
    ongoing_calls(berlin, 2)
    assert route(owner)["estimated_wait_time"] == 480


def test_agent_follows_the_callers_language(owner, berlin):
    PhoneNumberFactory(
        branch=berlin, number="+493012345671", retell_agent_id="agent_berlin_en", language="en"
    )
    assert route(owner, language="en-GB")["agent"] == {
        "agent_id": "agent_berlin_en",
        "language": "en",
        "source": "phone_number",
    }
    assert route(owner, language="de")["agent"]["agent_id"] == "agent_berlin_de"
    assert route(owner, language="tr")["agent"]["agent_id"] == "agent_berlin_de"


# ------------------------------------------------------------------------------------ rules


def rule(tenant, **kwargs):
    return RoutingRuleFactory(tenant=tenant, **kwargs)


def test_rules_apply_in_priority_order_and_are_recorded(owner, tenant, berlin, hamburg):
    rule(
        tenant,
        name="English",
        priority=20,
        conditions={"languages": ["en"]},
        action=RoutingAction.USE_AGENT,
        target_agent_id="agent_en",
    )
    first = rule(
        tenant,
        name="Lunch to Hamburg",
        priority=10,
        branch=berlin,
        conditions={
            "time_windows": [{"start": "09:30", "end": "10:30", "weekdays": ["wednesday"]}]
        },
        action=RoutingAction.ROUTE_TO_BRANCH,
        target_branch=hamburg,
    )
    data = route(owner, language="en")
    assert data["routing_decision"] == "rule_branch"
    assert data["branch"]["id"] == hamburg.pk
    assert data["agent"]["agent_id"] == "agent_hamburg_de"
    assert data["routing_metadata"]["matched_rule"] == {
        "id": first.pk,
        "name": "Lunch to Hamburg",
        "priority": 10,
        "action": "route_to_branch",
    }
    # Outside the window the next rule (English agent) matches; the branch stays Berlin.
    with time_machine.travel(dt.datetime(2027, 6, 2, 11, 0, tzinfo=BERLIN), tick=False):
        data = route(owner, language="en")
    assert data["routing_decision"] == "branch_specific"
    assert data["agent"] == {"agent_id": "agent_en", "language": "en", "source": "rule"}
    assert data["routing_metadata"]["matched_rule"]["name"] == "English"
    # Hamburg's calls are not touched by Berlin's rule; German callers not by the English one.
    data = route(owner, HAMBURG_NUMBER, language="de")
    assert (data["routing_decision"], data["routing_metadata"]["matched_rule"]) == (
        "branch_specific",
        None,
    )


def test_inactive_rules_and_rules_of_other_tenants_are_ignored(owner, tenant, hamburg):
    rule(tenant, name="Off", priority=1, action=RoutingAction.FALLBACK, is_active=False)
    RoutingRuleFactory(name="Foreign", priority=1, action=RoutingAction.FALLBACK)
    assert route(owner)["routing_decision"] == "branch_specific"


def test_overnight_window_rule_falls_back(owner, tenant, berlin):
    tenant.settings = {"default_agent_id": "agent_night"}
    tenant.save()
    rule(
        tenant,
        name="Night",
        priority=5,
        conditions={"time_windows": [{"start": "22:00", "end": "06:00", "weekdays": ["tuesday"]}]},
        action=RoutingAction.FALLBACK,
    )
    with time_machine.travel(dt.datetime(2027, 6, 2, 5, 0, tzinfo=BERLIN), tick=False):  # Wed 05:00
        data = route(owner)
    assert data["routing_decision"] == "fallback"
    assert data["agent"] == {
        "agent_id": "agent_night",
        "language": "de",
        "source": "tenant_default",
    }
    assert data["routing_metadata"]["matched_rule"]["name"] == "Night"
    with time_machine.travel(dt.datetime(2027, 6, 3, 5, 0, tzinfo=BERLIN), tick=False):  # Thu 05:00
        assert route(owner)["routing_metadata"]["matched_rule"] is None


def test_overflow_rule_sends_busy_calls_to_its_target(owner, tenant, berlin, hamburg):
    potsdam = BranchFactory(
        tenant=tenant, name="Potsdam", latitude=Decimal("52.39"), longitude=Decimal("13.06")
    )
    rule(
        tenant,
        name="Busy",
        priority=1,
        branch=berlin,
        conditions={"min_ongoing_calls": 2},
        action=RoutingAction.OVERFLOW,
        target_branch=hamburg,
    )
    ongoing_calls(berlin, 1)
    assert route(owner)["routing_decision"] == "branch_specific"
    ongoing_calls(berlin, 1)
    data = route(owner)
    assert (data["routing_decision"], data["branch"]["id"]) == ("overflow", hamburg.pk)
    # A busy target is passed over for the nearest free branch.
    hamburg.settings = {"max_concurrent_calls": 1}
    hamburg.save()
    ongoing_calls(hamburg, 1)
    data = route(owner)
    assert (data["routing_decision"], data["branch"]["id"]) == ("overflow", potsdam.pk)


def test_rule_targeting_a_deactivated_branch_is_skipped(owner, tenant, berlin, hamburg):
    rule(
        tenant,
        name="To Hamburg",
        priority=1,
        action=RoutingAction.ROUTE_TO_BRANCH,
        target_branch=hamburg,
    )
    hamburg.is_active = False
    hamburg.save()
    data = route(owner)
    assert (data["routing_decision"], data["branch"]["id"]) == ("branch_specific", berlin.pk)


def test_routing_reads_a_constant_number_of_rows(
    owner, tenant, berlin, django_assert_max_num_queries
):
    for index in range(10):
        rule(
            tenant,
            name=f"R{index}",
            priority=50 + index,
            conditions={"languages": ["fr"]},
            action=RoutingAction.USE_AGENT,
            target_agent_id="agent_fr",
        )
        BranchFactory(tenant=tenant, name=f"Extra {index}")
    with django_assert_max_num_queries(4):
        decision = services.call_route(tenant=tenant, phone_number=BERLIN_NUMBER)
    assert decision.branch == berlin


# ---------------------------------------------------------------------------------- fallback


def test_route_to_fallback_uses_the_tenants_defaults(owner, tenant, berlin, hamburg):
    tenant.settings = {"default_branch_id": hamburg.pk, "default_agent_id": "agent_central"}
    tenant.save()
    data = ok(owner, "routing.routeToFallback", {"phone_number": BERLIN_NUMBER})
    assert data["routing_decision"] == "fallback"
    assert data["branch"]["id"] == hamburg.pk
    assert data["agent"] == {
        "agent_id": "agent_central",
        "language": "de",
        "source": "tenant_default",
    }
    meta = data["routing_metadata"]
    assert (meta["reason"], meta["dialled_branch_id"], meta["fallback_number"]) == (
        "requested",
        berlin.pk,
        "+4930120045670",
    )


def test_route_to_fallback_never_fails_for_a_known_tenant(owner, berlin):
    for number in (None, "+498912345670", "kaputt"):
        args = {"reason": "agent_unavailable"} | ({"phone_number": number} if number else {})
        data = ok(owner, "routing.routeToFallback", args)
        assert data["routing_decision"] == "fallback"
        assert data["branch"]["id"] == berlin.pk  # the first active branch
        assert data["agent"]["agent_id"] == "agent_berlin_de"
        assert data["routing_metadata"]["phone_number_matched"] is False


@override_settings(RETELL_DEFAULT_AGENT_ID="agent_server_default")
def test_fallback_of_a_tenant_without_branches_still_answers():
    empty = CompanyFactory()
    data = ok(principal_for(empty), "routing.routeToFallback", {})
    assert data["branch"] is None
    assert data["agent"] == {
        "agent_id": "agent_server_default",
        "language": "de",
        "source": "default",
    }
    assert data["estimated_wait_time"] == 0
    assert data["routing_metadata"]["fallback_number"] is None


def test_inactive_phone_numbers_do_not_route(owner, berlin_number):
    berlin_number.is_active = False
    berlin_number.save()
    assert failed(owner, "routing.routeIncomingCall", {"phone_number": BERLIN_NUMBER})[0] == (
        "RESOURCE_NOT_FOUND"
    )
