"""Plan limits and features enforced through the front doors: REST, the admin, the booking
path and the reminder sweep (tenants.policy)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import SmsMessage
from bookings.notifications.reminders import reminders_enqueue_due
from mcp_core.models import OutboxMessage
from staff.models import Staff
from tenants.enums import Plan, SubscriptionStatus
from tenants.models import Branch, Company
from tests.bookings.test_booking_service import NOW, book, make_world
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    CustomerFactory,
    OperatorProfileFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SMS_REFUSED = {"feature": "sms_notifications", "required_plan": "professional"}


def rest(client: Any, tenant: Company, name: str, args: dict[str, Any]) -> Any:
    _, token = ApiKeyFactory.create_with_plaintext(tenant=tenant, role="owner")
    return client.post(
        f"/api/v2/mcp/operations/{name}",
        args,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def inline_forms(client: Any, url: str) -> dict[str, str]:
    """The empty management forms of the page's inlines, as the browser would post them."""
    page = client.get(url).content.decode()
    prefixes = re.findall(r'name="([\w-]+)-TOTAL_FORMS"', page)
    return {
        **{f"{prefix}-TOTAL_FORMS": "0" for prefix in prefixes},
        **{f"{prefix}-INITIAL_FORMS": "0" for prefix in prefixes},
    }


def plan(tenant: Company, name: str, **subscription: Any) -> Company:
    tenant.subscription.plan = name
    for field, value in subscription.items():
        setattr(tenant.subscription, field, value)
    tenant.subscription.save()
    return tenant


# ------------------------------------------------------------------------------------- SMS


def test_a_basic_tenant_is_refused_sms_with_the_feature_and_plan_it_needs(client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    customer = CustomerFactory(tenant=tenant, phone="+49301234567")

    response = rest(
        client,
        tenant,
        "integration.sendSMSNotification",
        {"kind": "custom", "customer_id": customer.pk, "message": "Hallo"},
    )

    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["type"], error["code"], error["details"]) == (
        "PERMISSION_DENIED",
        1003,
        SMS_REFUSED,
    )
    assert SmsMessage.objects.all_tenants().count() == 0


@pytest.mark.parametrize(
    ("name", "subscription"),
    [
        (Plan.BASIC, {"features": {"sms": True}}),
        (Plan.PROFESSIONAL, {}),
        (Plan.ENTERPRISE, {}),
    ],
    ids=["basic-with-sms-add-on", "professional", "enterprise"],
)
def test_sms_is_sent_for_a_plan_or_add_on_that_includes_it(client, name, subscription):
    tenant = plan(CompanyFactory(), name, **subscription)
    customer = CustomerFactory(tenant=tenant, phone="+49301234567")

    response = rest(
        client,
        tenant,
        "integration.sendSMSNotification",
        {"kind": "custom", "customer_id": customer.pk, "message": "Hallo"},
    )

    assert response.status_code == 200, response.json()
    assert SmsMessage.objects.for_tenant(tenant).get().body == "Hallo"


@pytest.mark.parametrize("features", [{}, {"sms": True}], ids=["plan", "plan-and-add-on"])
def test_a_lapsed_professional_subscription_loses_sms_but_keeps_its_data(client, features):
    tenant = plan(
        CompanyFactory(), Plan.PROFESSIONAL, status=SubscriptionStatus.PAST_DUE, features=features
    )
    customer = CustomerFactory(tenant=tenant, phone="+49301234567")

    response = rest(
        client,
        tenant,
        "integration.sendSMSNotification",
        {"kind": "custom", "customer_id": customer.pk, "message": "Hallo"},
    )

    assert response.status_code == 403
    assert response.json()["error"]["details"] == SMS_REFUSED
    assert list(tenant.customers.values_list("pk", flat=True)) == [customer.pk]


@time_machine.travel(NOW, tick=True)
def test_a_basic_tenants_booking_is_confirmed_without_an_sms():
    basic = make_world(plan=Plan.BASIC)
    data = book(basic)
    assert data["notifications_sent"] == []
    assert SmsMessage.objects.all_tenants().count() == 0

    professional = make_world()
    assert book(professional)["notifications_sent"] == ["sms"]
    assert SmsMessage.objects.for_tenant(professional.tenant).count() == 1


def test_the_reminder_sweep_skips_tenants_whose_plan_lacks_sms(settings):
    settings.SMS_REMINDER_HOURS_BEFORE = 24
    now = dt.datetime(2027, 3, 8, 8, 0, tzinfo=dt.UTC)
    due: dict[str, int] = {}
    for name in (Plan.BASIC, Plan.PROFESSIONAL):
        tenant = plan(CompanyFactory(), name)
        appointment = AppointmentFactory(
            tenant=tenant,
            start_time=now + dt.timedelta(hours=5),
            end_time=now + dt.timedelta(hours=6),
        )
        appointment.created_at = now - dt.timedelta(days=2)
        appointment.save(update_fields=["created_at"])
        due[name] = appointment.pk

    assert reminders_enqueue_due(now=now) == [due[Plan.PROFESSIONAL]]
    payloads = OutboxMessage.objects.all_tenants().filter(topic="sms.reminder")
    assert [m.payload["appointment_id"] for m in payloads] == [due[Plan.PROFESSIONAL]]


# ---------------------------------------------------------------------------------- branches


def test_create_branch_over_rest_at_the_limit_is_quota_exceeded(client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    BranchFactory(tenant=tenant, name="Berlin")

    response = rest(client, tenant, "tenant.createBranch", {"name": "Hamburg"})

    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["type"], error["code"], error["details"]) == (
        "TENANT_QUOTA_EXCEEDED",
        1006,
        {"quota": "branches", "plan": "basic", "limit": 1, "used": 1},
    )
    assert list(Branch.objects.for_tenant(tenant).values_list("name", flat=True)) == ["Berlin"]


@pytest.fixture
def operator_client(client):
    def login(tenant: Company) -> Any:
        profile = OperatorProfileFactory(tenant=tenant)
        profile.user.user_permissions.set(Permission.objects.all())
        client.force_login(profile.user)
        return client

    return login


def test_the_admin_refuses_a_branch_over_the_plans_limit(operator_client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    BranchFactory(tenant=tenant, name="Berlin")
    client = operator_client(tenant)
    form = {
        **inline_forms(client, reverse("admin:tenants_branch_add")),
        "name": "Hamburg",
        "country": "DE",
        "time_zone": "Europe/Berlin",
    }

    response = client.post(reverse("admin:tenants_branch_add"), form)

    assert response.status_code == 200
    assert "The basic plan allows 1 (branches); 1 are used." in response.content.decode()
    assert Branch.objects.for_tenant(tenant).count() == 1

    plan(tenant, Plan.PROFESSIONAL)
    response = client.post(reverse("admin:tenants_branch_add"), form)
    assert response.status_code == 302
    assert Branch.objects.for_tenant(tenant).count() == 2


def test_the_company_page_adds_no_branch_inline(client):
    tenant = CompanyFactory()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:tenants_company_change", args=[tenant.pk])).content.decode()
    assert 'id="id_branches-TOTAL_FORMS"' in page
    assert "Add another Branch" not in page


# ------------------------------------------------------------------------------ staff/branch


def staff_form(client: Any, branch: Branch, name: str, *, active: bool = True) -> dict[str, Any]:
    form: dict[str, Any] = {
        **inline_forms(client, reverse("admin:staff_staff_add")),
        "branch": branch.pk,
        "name": name,
        "languages": "de",
        "rating": "0",
    }
    if active:
        form["is_active"] = "on"
    return form


def test_the_admin_refuses_staff_over_the_plans_staff_per_branch(operator_client):
    tenant = plan(CompanyFactory(), Plan.BASIC)
    branch = BranchFactory(tenant=tenant)
    StaffFactory.create_batch(5, tenant=tenant, branch=branch)
    StaffFactory(tenant=tenant, branch=branch, is_active=False)  # inactive ones do not count
    client = operator_client(tenant)

    response = client.post(reverse("admin:staff_staff_add"), staff_form(client, branch, "Sechs"))

    assert response.status_code == 200
    assert "The basic plan allows 5 (staff per branch); 5 are used." in response.content.decode()
    assert Staff.objects.for_tenant(tenant).count() == 6

    # An inactive member may be added; making an inactive one active again is refused.
    response = client.post(
        reverse("admin:staff_staff_add"), staff_form(client, branch, "Aushilfe", active=False)
    )
    assert response.status_code == 302
    helper = Staff.objects.for_tenant(tenant).get(name="Aushilfe")
    response = client.post(
        reverse("admin:staff_staff_change", args=[helper.pk]),
        staff_form(client, branch, "Aushilfe"),
    )
    assert response.status_code == 200
    helper.refresh_from_db()
    assert helper.is_active is False


def test_moving_staff_into_a_full_branch_is_refused_and_editing_in_place_is_not(
    operator_client,
):
    tenant = plan(CompanyFactory(), Plan.PROFESSIONAL)
    full, other = BranchFactory(tenant=tenant), BranchFactory(tenant=tenant)
    StaffFactory.create_batch(20, tenant=tenant, branch=full)
    mover = StaffFactory(tenant=tenant, branch=other, name="Mover")
    resident = Staff.objects.for_tenant(tenant).filter(branch=full).first()
    client = operator_client(tenant)

    response = client.post(
        reverse("admin:staff_staff_change", args=[mover.pk]), staff_form(client, full, "Mover")
    )
    assert response.status_code == 200
    mover.refresh_from_db()
    assert mover.branch_id == other.pk

    response = client.post(
        reverse("admin:staff_staff_change", args=[resident.pk]),
        staff_form(client, full, "Umbenannt"),
    )
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.name == "Umbenannt"


def test_enterprise_has_no_staff_per_branch_limit(operator_client):
    tenant = plan(CompanyFactory(), Plan.ENTERPRISE)
    branch = BranchFactory(tenant=tenant)
    StaffFactory.create_batch(20, tenant=tenant, branch=branch)
    client = operator_client(tenant)
    response = client.post(
        reverse("admin:staff_staff_add"), staff_form(client, branch, "Einundzwanzig")
    )
    assert response.status_code == 302
    assert Staff.objects.for_tenant(tenant).filter(branch=branch, is_active=True).count() == 21
