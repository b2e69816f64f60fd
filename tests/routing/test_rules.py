"""routing.getRoutingRules and routing.updateRoutingRules: validation, atomic replace, audit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from mcp_core.models import AuditLog
from mcp_core.permissions import Role
from routing.models import RoutingRule
from tests.factories import BranchFactory, RoutingRuleFactory
from tests.operations import call, failed, ok, principal_for
from tests.routing.support import audit_actions

pytestmark = pytest.mark.django_db


def stored(tenant):
    return list(
        RoutingRule.objects.for_tenant(tenant)
        .order_by("priority", "pk")
        .values_list("name", "priority", "action", "target_branch_id", "target_agent_id")
    )


@pytest.fixture
def old_rule(tenant):
    return RoutingRuleFactory(tenant=tenant, name="Old", priority=1, action="fallback")


def test_update_replaces_the_whole_set_and_get_reads_it(owner, tenant, berlin, hamburg, old_rule):
    rules = [
        {
            "name": "Abends nach Hamburg",
            "priority": 20,
            "branch_id": berlin.pk,
            "conditions": {
                "time_windows": [
                    {"start": "18:00", "end": "20:00", "weekdays": ["Friday", "monday"]}
                ]
            },
            "action": "route_to_branch",
            "target_branch_id": hamburg.pk,
        },
        {
            "name": "Englisch",
            "priority": 10,
            "conditions": {"languages": ["EN", "en", "tr"]},
            "action": "use_agent",
            "target_agent_id": "agent_en",
        },
    ]
    data = ok(owner, "routing.updateRoutingRules", {"rules": rules})
    assert data["count"] == 2
    english, evening = data["rules"]
    assert english["name"] == "Englisch"
    assert english["conditions"] == {
        "time_windows": [],
        "languages": ["en", "tr"],
        "min_ongoing_calls": None,
    }
    assert evening["conditions"]["time_windows"] == [
        {"start": "18:00", "end": "20:00", "weekdays": ["monday", "friday"]}
    ]
    assert (evening["branch_id"], evening["target_branch_id"], evening["target_agent_id"]) == (
        berlin.pk,
        hamburg.pk,
        None,
    )
    assert stored(tenant) == [
        ("Englisch", 10, "use_agent", None, "agent_en"),
        ("Abends nach Hamburg", 20, "route_to_branch", hamburg.pk, ""),
    ]
    assert ok(owner, "routing.getRoutingRules") == data
    assert audit_actions(tenant) == ["routing.rules_replaced"]

    assert ok(owner, "routing.updateRoutingRules", {"rules": []}) == {"rules": [], "count": 0}
    assert stored(tenant) == []


def test_update_is_audited_with_before_and_after(owner, tenant, old_rule):
    ok(owner, "routing.updateRoutingRules", {"rules": [{"name": "New", "action": "fallback"}]})
    row = AuditLog.objects.for_tenant(tenant).get()
    assert row.actor.startswith("api_key:")
    assert [r["name"] for r in row.changes["before"]] == ["Old"]
    assert row.changes["after"][0]["name"] == "New"
    assert row.changes["after"][0]["priority"] == 100


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        (
            {"conditions": {"time_windows": [{"start": "25:00", "end": "18:00"}]}},
            "rules.1.conditions.time_windows.0.start",
            "String should match pattern",
        ),
        (
            {"conditions": {"time_windows": [{"start": "09:00", "end": "09:00"}]}},
            "rules.1.conditions.time_windows.0",
            "'start' and 'end' must differ",
        ),
        (
            {
                "conditions": {
                    "time_windows": [{"start": "09:00", "end": "10:00", "weekdays": ["funday"]}]
                }
            },
            "rules.1.conditions.time_windows.0.weekdays.0",
            "Input should be",
        ),
        (
            {"conditions": {"languages": ["english"]}},
            "rules.1.conditions.languages",
            "not an ISO 639-1 language code",
        ),
        ({"conditions": {"colour": "red"}}, "rules.1.conditions.colour", "Unknown field."),
        ({"action": "teleport"}, "rules.1.action", "Input should be"),
        ({"action": "use_agent"}, "rules.1", "use_agent needs target_agent_id"),
        ({"action": "route_to_branch"}, "rules.1", "route_to_branch needs target_branch_id"),
        ({"priority": -1}, "rules.1.priority", "greater than or equal to 0"),
    ],
)
def test_invalid_rules_are_refused_and_change_nothing(
    owner, tenant, old_rule, rule, field, message
):
    rules = [{"name": "Fine", "action": "fallback"}, {"name": "Bad", "action": "fallback", **rule}]
    error, details = failed(owner, "routing.updateRoutingRules", {"rules": rules})
    assert error == "VALIDATION_FAILED"
    assert field in details, details
    assert any(message in text for text in details[field]), details[field]
    assert stored(tenant) == [("Old", 1, "fallback", None, "")]
    assert audit_actions(tenant) == []


def test_branches_must_be_the_tenants_and_targets_active(owner, tenant, berlin, hamburg, old_rule):
    foreign = BranchFactory()
    hamburg.is_active = False
    hamburg.save()
    rules = [
        {"name": "A", "branch_id": foreign.pk, "action": "fallback"},
        {"name": "B", "action": "route_to_branch", "target_branch_id": foreign.pk},
        {"name": "C", "action": "overflow", "target_branch_id": hamburg.pk},
        {"name": "D", "branch_id": berlin.pk, "action": "overflow", "target_branch_id": berlin.pk},
        {"name": "E", "action": "fallback", "target_branch_id": berlin.pk},
    ]
    error, details = failed(owner, "routing.updateRoutingRules", {"rules": rules[:4]})
    assert (error, details) == (
        "VALIDATION_FAILED",
        {
            "rules.0.branch_id": ["Not a branch of this tenant."],
            "rules.1.target_branch_id": ["Not an active branch of this tenant."],
            "rules.2.target_branch_id": ["Not an active branch of this tenant."],
            "rules.3.target_branch_id": ["Must differ from branch_id."],
        },
    )
    assert failed(owner, "routing.updateRoutingRules", {"rules": rules[4:]}) == (
        "VALIDATION_FAILED",
        {"rules.0": ["Value error, fallback takes no target_branch_id"]},
    )
    assert stored(tenant) == [("Old", 1, "fallback", None, "")]


def test_update_needs_manage_routing_and_reading_does_not(tenant, old_rule):
    readonly = principal_for(tenant, Role.READONLY)
    error, details = failed(readonly, "routing.updateRoutingRules", {"rules": []})
    assert (error, details["required_permission"]) == ("PERMISSION_DENIED", "manage-routing")
    assert ok(readonly, "routing.getRoutingRules")["count"] == 1
    manager = principal_for(tenant, Role.MANAGER)
    assert ok(manager, "routing.updateRoutingRules", {"rules": []})["count"] == 0


def test_tenants_see_and_replace_only_their_own_rules(owner, tenant, old_rule):
    other = RoutingRuleFactory(name="Theirs")
    assert [r["name"] for r in ok(owner, "routing.getRoutingRules")["rules"]] == ["Old"]
    ok(owner, "routing.updateRoutingRules", {"rules": []})
    assert RoutingRule.objects.all_tenants().filter(pk=other.pk).exists()


def test_too_many_rules_are_refused(owner):
    rules = [{"name": f"R{i}", "action": "fallback"} for i in range(51)]
    assert failed(owner, "routing.updateRoutingRules", {"rules": rules})[0] == "VALIDATION_FAILED"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_replacements_leave_one_complete_set(owner, tenant, berlin, hamburg):
    racers = 8
    barrier = threading.Barrier(racers)
    results: list[Any] = [None] * racers

    def replace(index: int) -> None:
        rules = [
            {"name": f"T{index}-{part}", "priority": part, "action": "fallback"}
            for part in range(3)
        ]
        try:
            barrier.wait(timeout=30)
            results[index] = call(owner, "routing.updateRoutingRules", {"rules": rules})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=replace, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None and result.ok for result in results)
    names = [row[0] for row in stored(tenant)]
    winner = names[0].split("-")[0]
    assert names == [f"{winner}-0", f"{winner}-1", f"{winner}-2"]
    assert audit_actions(tenant) == ["routing.rules_replaced"] * racers
