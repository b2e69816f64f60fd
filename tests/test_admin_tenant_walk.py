"""Every page of the admin, walked as a tenant-bound operator holding every permission, as a
staff user bound to no tenant and as a superuser: each list (and each choice of each of its
filters), each add page and each change page, read (GET) and written back unchanged (POST).
No page answers 500, and the operator never sees a row, a name or a filter choice of another
tenant; nothing of the other tenant changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Appointment, SmsMessage, SmsTemplate
from integrations.models import (
    CalcomAccount,
    CalcomBusyBlock,
    CalcomEventType,
    StripeCharge,
    WebhookEvent,
)
from mcp_core.models import OutboxMessage, SagaRun
from tenants.models import Company
from tests.admin_forms import form_data
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    AuditLogFactory,
    BranchFactory,
    CallLogFactory,
    CompanyFactory,
    CustomerFactory,
    OperatorProfileFactory,
    PhoneNumberFactory,
    RoutingRuleFactory,
    ServiceFactory,
    StaffFactory,
    StaffServiceFactory,
    TimeBlockFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

# Every name of the other tenant carries this marker, so it shows wherever the page leaks.
FOREIGN = "Fremd"


def _world(tenant_name: str, marker: str, event_type_id: int, phone: str) -> Any:
    """One tenant with a row of every model the admin shows."""
    tenant = CompanyFactory(name=tenant_name)
    branch = BranchFactory(tenant=tenant, name=f"{marker}filiale")
    staff = StaffFactory(branch=branch, name=f"{marker}mitarbeiterin")
    service = ServiceFactory(tenant=tenant, name=f"{marker}schnitt")
    service.branches.add(branch)
    StaffServiceFactory(staff=staff, service=service)
    WorkingHoursFactory(staff=staff)
    block = TimeBlockFactory(staff=staff, reason=f"{marker}urlaub")
    customer = CustomerFactory(tenant=tenant, name=f"{marker}kundin", phone=phone)
    appointment = AppointmentFactory(
        staff=staff, service=service, customer=customer, tenant=tenant, branch=branch
    )
    ApiKeyFactory(tenant=tenant, name=f"{marker}schluessel")
    AuditLogFactory(tenant=tenant, actor=f"{marker}akteur")
    PhoneNumberFactory(branch=branch)
    RoutingRuleFactory(
        tenant=tenant,
        name=f"{marker}regel",
        branch=branch,
        action="use_agent",
        target_agent_id=f"agent_{marker}",
    )
    CallLogFactory(branch=branch, customer=customer, appointment=appointment)
    SmsTemplate.objects.create(
        tenant=tenant, kind="confirmation", body=f"{marker}: {{termin}} {{nummer}}"
    )
    SmsMessage.objects.create(
        tenant=tenant,
        appointment=appointment,
        kind="confirmation",
        to=customer.phone,
        body=f"{marker}nachricht",
        provider="console",
        status="sent",
    )
    CalcomAccount.objects.create(tenant=tenant, api_key=f"cal_live_{marker}")
    CalcomEventType.objects.create(
        tenant=tenant, service=service, event_type_id=event_type_id, staff=staff
    )
    CalcomBusyBlock.objects.create(tenant=tenant, booking_uid=f"{marker}uid", time_block=block)
    WebhookEvent.objects.create(
        provider="calcom",
        event_id=f"{marker}event",
        event_type="BOOKING_CREATED",
        tenant=tenant,
        payload={"attendee": f"{marker}kundin"},
    )
    SagaRun.objects.create(tenant=tenant, name="booking.create", context={"n": marker})
    OutboxMessage.objects.create(
        tenant=tenant, topic="sms.confirmation", payload={"n": marker}, dedupe_key=marker
    )
    StripeCharge.objects.create(
        tenant=tenant,
        description=f"{marker}gebuehr",
        amount_cents=100,
        currency="eur",
        idempotency_key=f"{marker}charge",
    )
    return tenant


def _url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _tenant_of(obj: Any) -> int | None:
    if isinstance(obj, Company):
        return int(obj.pk)
    return getattr(obj, "tenant_id", None)


def _snapshot(tenant: Any) -> dict[str, list[Any]]:
    """Every row the other tenant owns, to prove nothing of it changed."""
    rows: dict[str, list[Any]] = {}
    for model in admin.site._registry:
        manager = model._default_manager
        if model._meta.proxy:
            continue
        if hasattr(manager, "for_tenant"):
            qs = manager.for_tenant(tenant)
        elif any(f.name == "tenant" for f in model._meta.fields):
            qs = manager.filter(tenant=tenant)
        else:
            qs = manager.filter(pk=tenant.pk) if model._meta.label == "tenants.Company" else None
        if qs is not None:
            rows[model._meta.label] = sorted(map(str, qs.order_by().values_list()))
    return rows


def _walk(client: Any, *, own: int | None, foreign: Any, forbid_foreign: bool) -> None:
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda i: str(i[0])):
        label = model._meta.label
        response = client.get(_url(model, "changelist"))
        if response.status_code == 403:
            continue
        assert response.status_code == 200, label
        if forbid_foreign:
            _assert_clean(response, label)
        cl = response.context["cl"]
        rows = list(cl.queryset)
        if own is None and forbid_foreign:
            assert rows == [], f"{label}: a user bound to no tenant sees rows"
        elif forbid_foreign:
            assert {_tenant_of(row) for row in rows} <= {own}, label
        for spec in cl.filter_specs:
            for choice in spec.choices(cl):
                page = client.get(_url(model, "changelist") + choice["query_string"])
                assert page.status_code == 200, (label, choice["query_string"])
                if forbid_foreign:
                    _assert_clean(page, f"{label} filter {choice['query_string']}")
        _add_page(client, model, model_admin, rows, label, forbid_foreign)
        for row in rows[:1]:
            change = client.get(_url(model, "change", row.pk))
            assert change.status_code == 200, label
            if forbid_foreign:
                _assert_clean(change, f"{label} change")
            form = form_data(change.content.decode())
            if form and model_admin.has_change_permission(change.wsgi_request, row):
                saved = client.post(_url(model, "change", row.pk), form)
                assert saved.status_code in {200, 302}, label
                if saved.status_code == 200:
                    errors = saved.context["adminform"].form.errors
                    assert not errors, (label, errors)


def _add_page(
    client: Any, model: Any, model_admin: Any, rows: list[Any], label: str, forbid: bool
) -> None:
    add = client.get(_url(model, "add"))
    if add.status_code == 403:
        return
    assert add.status_code == 200, label
    if forbid:
        _assert_clean(add, f"{label} add")
    form = form_data(add.content.decode())
    posted = client.post(_url(model, "add"), form)
    assert posted.status_code in {200, 302}, label


def _assert_clean(response: Any, where: str) -> None:
    body = response.content.decode()
    assert FOREIGN not in body, f"{where} shows the other tenant: {FOREIGN!r}"


@pytest.fixture
def tenants():
    mine = _world("Eigener Salon", "Eigen", 9101, "+4915123456701")
    theirs = _world(f"{FOREIGN} Salon", FOREIGN, 9102, "+4915123456702")
    return mine, theirs


def _grant_all(user: Any) -> None:
    user.user_permissions.set(Permission.objects.all())


def test_operator_walks_every_admin_page_and_sees_only_their_tenant(client, tenants):
    mine, theirs = tenants
    profile = OperatorProfileFactory(tenant=mine)
    _grant_all(profile.user)
    client.force_login(profile.user)
    before = _snapshot(theirs)

    _walk(client, own=mine.pk, foreign=theirs, forbid_foreign=True)

    assert _snapshot(theirs) == before
    assert Appointment.objects.for_tenant(theirs).count() == 1


def test_staff_bound_to_no_tenant_sees_no_row(client, tenants):
    _, theirs = tenants
    user = UserFactory(is_staff=True)
    _grant_all(user)
    client.force_login(user)
    before = _snapshot(theirs)

    _walk(client, own=None, foreign=theirs, forbid_foreign=True)

    assert _snapshot(theirs) == before


def test_superuser_walks_every_admin_page_without_an_error(client, tenants):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    _walk(client, own=None, foreign=None, forbid_foreign=False)
    assert WebhookEvent.objects.count() == 2


def test_every_registered_admin_is_walked():
    assert {m._meta.label for m in admin.site._registry} >= {
        "integrations.WebhookEvent",
        "tenants.Company",
        "bookings.Appointment",
        "integrations.CalcomAccount",
        "tenants.ApiKey",
    }
