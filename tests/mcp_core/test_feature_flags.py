"""Feature flags: stable percentage rollout, targeting, kill switch, per-process cache with
invalidation on write, the admin (audited) and the tenant.getFeatureFlags operation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from mcp_core import flags
from mcp_core.flag_provider import DOMAIN, flag_value
from mcp_core.flags import FlagRule, bucket, flag_enabled
from mcp_core.models import FeatureFlag, FeatureFlagChange, FlagState
from tenants.enums import Plan, SubscriptionStatus
from tests.factories import ApiKeyFactory, CompanyFactory, OperatorProfileFactory, UserFactory

SYNTHETIC_TENANTS = range(1, 10_001)


def percentage_rule(percentage: int, name: str = "new_booking_path") -> FlagRule:
    return FlagRule(name, FlagState.TARGETED, frozenset(), frozenset(), percentage, False)


def enabled(rule: FlagRule) -> set[int]:
    return {t for t in SYNTHETIC_TENANTS if rule.enabled_for(tenant_id=t, plan=Plan.BASIC)}


def test_a_quarter_rollout_reaches_a_quarter_of_10000_tenants_and_never_flips():
    quarter = enabled(percentage_rule(25))
    assert 2400 <= len(quarter) <= 2600  # 25 % ± 1 %
    assert enabled(percentage_rule(25)) == quarter  # the same answer on every call
    assert all(percentage_rule(25).enabled_for(tenant_id=t, plan=None) for t in list(quarter)[:500])


def test_raising_the_rollout_only_adds_tenants():
    quarter, half = enabled(percentage_rule(25)), enabled(percentage_rule(50))
    assert quarter <= half
    assert 4900 <= len(half) <= 5100
    assert enabled(percentage_rule(0)) == set()
    assert enabled(percentage_rule(100)) == set(SYNTHETIC_TENANTS)


def test_buckets_of_two_flags_are_independent():
    first, second = enabled(percentage_rule(25, "a")), enabled(percentage_rule(25, "b"))
    overlap = len(first & second) / len(SYNTHETIC_TENANTS)
    assert 0.05 <= overlap <= 0.075  # about 25 % of 25 %, not the same quarter
    assert bucket("a", 7) == bucket("a", 7)


# ------------------------------------------------------------------------- rows and caching


def make_flag(**fields: Any) -> FeatureFlag:
    tenants = fields.pop("tenants", [])
    flag = FeatureFlag.objects.create(name=fields.pop("name", "new_booking_path"), **fields)
    flag.tenants.set(tenants)
    flags.flag_changed(actor="test", flag=flag, action="flag.created", changes={})
    return flag


@pytest.mark.django_db
def test_a_flag_is_on_for_listed_tenants_and_plans_and_off_without_a_row():
    listed, enterprise, other = CompanyFactory(), CompanyFactory(), CompanyFactory()
    make_flag(state=FlagState.TARGETED, tenants=[listed], plans=[Plan.ENTERPRISE])

    assert flag_enabled("new_booking_path", tenant_id=listed.pk, plan=Plan.BASIC)
    assert flag_enabled("new_booking_path", tenant_id=enterprise.pk, plan=Plan.ENTERPRISE)
    assert not flag_enabled("new_booking_path", tenant_id=other.pk, plan=Plan.PROFESSIONAL)
    assert not flag_enabled("no_such_flag", tenant_id=listed.pk, plan=Plan.ENTERPRISE)


@pytest.mark.django_db
def test_the_kill_switch_turns_a_flag_off_for_everyone_and_is_audited():
    tenant = CompanyFactory()
    flag = make_flag(state=FlagState.ON)
    assert flag_enabled("new_booking_path", tenant_id=tenant.pk)

    flags.flag_kill(actor="admin:anna", flag=flag, killed=True)
    assert not flag_enabled("new_booking_path", tenant_id=tenant.pk)
    flags.flag_kill(actor="admin:anna", flag=flag, killed=True)  # already killed: no new row
    flags.flag_kill(actor="admin:anna", flag=flag, killed=False)
    assert flag_enabled("new_booking_path", tenant_id=tenant.pk)
    assert list(
        FeatureFlagChange.objects.filter(actor="admin:anna")
        .order_by("pk")
        .values_list("action", "changes")
    ) == [("flag.killed", {"killed": [False, True]}), ("flag.revived", {"killed": [True, False]})]


@pytest.mark.django_db(transaction=True)
def test_other_processes_see_a_change_through_the_cache_version(settings):
    settings.FEATURE_FLAG_CHECK_SECONDS = 3600
    tenant = CompanyFactory()
    flag = make_flag(state=FlagState.OFF)
    assert not flag_enabled("new_booking_path", tenant_id=tenant.pk)

    # Another process writes the row and bumps the version; this one trusts its copy until
    # its check interval is over, then compares the version and reloads.
    FeatureFlag.objects.filter(pk=flag.pk).update(state=FlagState.ON)
    cache.set(flags.VERSION_KEY, "written-elsewhere", timeout=None)
    assert not flag_enabled("new_booking_path", tenant_id=tenant.pk)
    settings.FEATURE_FLAG_CHECK_SECONDS = 0
    assert flag_enabled("new_booking_path", tenant_id=tenant.pk)

    # Unchanged version: the copy is kept, no query.
    FeatureFlag.objects.filter(pk=flag.pk).update(state=FlagState.OFF)
    assert flag_enabled("new_booking_path", tenant_id=tenant.pk)


@pytest.mark.django_db
def test_a_lapsed_subscription_is_targeted_by_its_plan_in_force(client):
    tenant = CompanyFactory(
        subscription__plan=Plan.ENTERPRISE, subscription__status=SubscriptionStatus.CANCELED
    )
    make_flag(state=FlagState.TARGETED, plans=[Plan.ENTERPRISE])
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="readonly")

    response = client.post(
        "/api/v2/mcp/operations/tenant.getFeatureFlags",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 200
    assert response.json()["flags"] == {
        "adaptive_load_shedding": False,
        "new_booking_path": False,
    }


@pytest.mark.django_db
def test_get_feature_flags_answers_each_tenant_its_own_flags(client):
    mine, theirs = CompanyFactory(), CompanyFactory()
    make_flag(state=FlagState.TARGETED, tenants=[mine])
    make_flag(name="adaptive_load_shedding", state=FlagState.ON)

    answers = {}
    for tenant in (mine, theirs):
        _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
        response = client.post(
            "/api/v2/mcp/operations/tenant.getFeatureFlags",
            {},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 200
        answers[tenant.pk] = response.json()["flags"]

    assert answers[mine.pk] == {"adaptive_load_shedding": True, "new_booking_path": True}
    assert answers[theirs.pk] == {"adaptive_load_shedding": True, "new_booking_path": False}


# --------------------------------------------------------------------------------- the admin


@pytest.mark.django_db
def test_a_superuser_edits_a_flag_in_the_admin_and_the_change_is_audited_and_live(client):
    user = UserFactory(is_staff=True, is_superuser=True, username="anna")
    client.force_login(user)
    tenant = CompanyFactory(subscription__plan=Plan.PROFESSIONAL)
    form = {
        "name": "new_booking_path",
        "description": "",
        "state": FlagState.TARGETED,
        "plans": [Plan.PROFESSIONAL],
        "percentage": "10",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
    }
    assert not flag_enabled("new_booking_path", tenant_id=tenant.pk, plan=Plan.PROFESSIONAL)

    response = client.post(reverse("admin:mcp_core_featureflag_add"), form)
    assert response.status_code == 302
    flag = FeatureFlag.objects.get()
    assert flag_enabled("new_booking_path", tenant_id=tenant.pk, plan=Plan.PROFESSIONAL)

    response = client.post(
        reverse("admin:mcp_core_featureflag_change", args=[flag.pk]),
        {**form, "plans": [], "percentage": "150"},
    )
    assert response.status_code == 200  # 150 % refused, nothing changed
    assert FeatureFlag.objects.get().percentage == 10

    response = client.post(
        reverse("admin:mcp_core_featureflag_changelist"),
        {"action": "kill_flags", "_selected_action": [flag.pk]},
    )
    assert response.status_code == 302
    assert not flag_enabled("new_booking_path", tenant_id=tenant.pk, plan=Plan.PROFESSIONAL)
    rows = list(FeatureFlagChange.objects.order_by("pk").values_list("actor", "action", "changes"))
    assert rows == [
        (
            "admin:anna",
            "flag.created",
            {
                "state": [None, "targeted"],
                "tenants": [None, []],
                "plans": [None, ["professional"]],
                "percentage": [None, 10],
                "killed": [None, False],
                "description": [None, ""],
            },
        ),
        ("admin:anna", "flag.killed", {"killed": [False, True]}),
    ]


@pytest.mark.django_db
def test_a_tenants_operator_cannot_open_the_flags(client):
    profile = OperatorProfileFactory()
    client.force_login(profile.user)
    assert client.get(reverse("admin:mcp_core_featureflag_changelist")).status_code == 403


# ------------------------------------------------------------------------ OpenFeature provider


@pytest.mark.django_db
def test_any_openfeature_client_reads_our_flags_with_the_tenant_as_targeting_key():
    listed, other = CompanyFactory(), CompanyFactory()
    make_flag(state=FlagState.TARGETED, tenants=[listed])
    client = api.get_client(DOMAIN)

    def details(tenant_id: int, name: str = "new_booking_path") -> Any:
        context = EvaluationContext(targeting_key=str(tenant_id), attributes={"plan": "basic"})
        return client.get_boolean_details(name, False, context)

    mine = details(listed.pk)
    assert (mine.value, mine.reason, mine.variant) == (True, Reason.TARGETING_MATCH, "on")
    theirs = details(other.pk)
    assert (theirs.value, theirs.reason) == (False, Reason.SPLIT)
    unknown = details(listed.pk, "no_such_flag")
    assert (unknown.value, unknown.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)
    assert client.get_string_value("new_booking_path", "x", None) == "x"  # booleans only
    assert flag_value("new_booking_path", tenant_id=listed.pk) is True
    assert flag_value("new_booking_path", tenant_id=None) is False
