"""The admin as an operations console: tenant-bound operators see only their tenant."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from mcp_core.models import AuditLog
from tenants.models import ApiKey, Branch
from tests.factories import (
    ApiKeyFactory,
    AppointmentFactory,
    BranchFactory,
    CompanyFactory,
    OperatorProfileFactory,
    ServiceFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants():
    mine = AppointmentFactory()
    theirs = AppointmentFactory()
    return mine, theirs


@pytest.fixture
def operator_client(client, two_tenants):
    mine, _ = two_tenants
    profile = OperatorProfileFactory(tenant=mine.tenant)
    profile.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["tenants", "staff", "bookings", "routing"]
        )
    )
    client.force_login(profile.user)
    return client


def _change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_operator_sees_only_own_appointments_in_the_list(operator_client, two_tenants):
    mine, theirs = two_tenants
    response = operator_client.get(reverse("admin:bookings_appointment_changelist"))

    assert response.status_code == 200
    listed = list(response.context["cl"].queryset)
    assert listed == [mine]
    assert theirs.confirmation_number not in response.content.decode()


def test_operator_cannot_open_another_tenants_appointment(operator_client, two_tenants):
    mine, theirs = two_tenants
    assert operator_client.get(_change_url(mine)).status_code == 200
    response = operator_client.get(_change_url(theirs))
    # Django admin answers an object outside the queryset with a redirect to the index
    # and a "does not exist" message, never the object.
    assert response.status_code == 302
    assert theirs.confirmation_number not in operator_client.get(response.url).content.decode()


def test_operator_cannot_cancel_another_tenants_appointment_through_an_action(
    operator_client, two_tenants
):
    mine, theirs = two_tenants
    operator_client.post(
        reverse("admin:bookings_appointment_changelist"),
        {
            "action": "cancel_appointments",
            "_selected_action": [mine.pk, theirs.pk],
            "confirm": "1",
            "reason": "Kundin krank",
            "notify_customer": "on",
        },
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == AppointmentStatus.CANCELLED
    assert theirs.status == AppointmentStatus.CONFIRMED
    audit = AuditLog.objects.all_tenants().get(action="appointment.cancelled")
    assert (audit.tenant_id, audit.object_id) == (mine.tenant_id, str(mine.pk))
    assert audit.actor.startswith("admin:")


def test_operator_with_no_tenant_sees_nothing(client, two_tenants):
    user = UserFactory()
    user.user_permissions.set(Permission.objects.filter(codename="view_appointment"))
    client.force_login(user)
    response = client.get(reverse("admin:bookings_appointment_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == []


def test_superuser_sees_every_tenant(client, two_tenants):
    client.force_login(UserFactory(is_superuser=True))
    response = client.get(reverse("admin:bookings_appointment_changelist"))
    assert set(response.context["cl"].queryset) == set(two_tenants)


def test_operator_choices_are_limited_to_own_tenant(operator_client, two_tenants):
    mine, _ = two_tenants
    response = operator_client.get(reverse("admin:staff_staff_add"))
    branch_choices = list(response.context["adminform"].form.fields["branch"].queryset)
    assert branch_choices == [mine.branch]
    assert "tenant" not in response.context["adminform"].form.fields


def test_operator_creates_rows_in_own_tenant(operator_client, two_tenants):
    mine, _ = two_tenants
    response = operator_client.post(
        reverse("admin:staff_service_add"),
        {
            "name": "Föhnen",
            "description": "",
            "synonyms": "[]",
            "duration_minutes": 20,
            "price": "15.00",
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 0,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert mine.tenant.services.get(name="Föhnen")


def test_branch_actions_activate_and_deactivate_with_audit(operator_client, two_tenants):
    mine, _ = two_tenants
    branch = mine.branch
    url = reverse("admin:tenants_branch_changelist")
    operator_client.post(url, {"action": "deactivate_branches", "_selected_action": [branch.pk]})
    assert Branch.objects.all_tenants().get(pk=branch.pk).is_active is False
    operator_client.post(url, {"action": "activate_branches", "_selected_action": [branch.pk]})
    assert Branch.objects.all_tenants().get(pk=branch.pk).is_active is True
    assert list(
        AuditLog.objects.all_tenants()
        .filter(object_id=str(branch.pk))
        .order_by("created_at")
        .values_list("action", flat=True)
    ) == ["branch.deactivated", "branch.activated"]


def test_revoke_api_key_action(operator_client, two_tenants):
    mine, theirs = two_tenants
    own_key = ApiKeyFactory(tenant=mine.tenant)
    foreign_key = ApiKeyFactory(tenant=theirs.tenant)
    operator_client.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [own_key.pk, foreign_key.pk]},
    )
    assert ApiKey.objects.all_tenants().get(pk=own_key.pk).revoked_at is not None
    assert ApiKey.objects.all_tenants().get(pk=foreign_key.pk).revoked_at is None


def test_adding_an_api_key_shows_it_once_and_stores_only_the_hash(operator_client, two_tenants):
    mine, _ = two_tenants
    response = operator_client.post(
        reverse("admin:tenants_apikey_add"), {"name": "Kasse", "role": "staff"}, follow=True
    )
    shown = [str(m) for m in response.context["messages"] if "shown once" in str(m)]
    assert len(shown) == 1
    plaintext = shown[0].rsplit(" ", 1)[-1]
    key = ApiKey.objects.all_tenants().get(tenant=mine.tenant, name="Kasse")
    assert key.role == "staff"
    assert plaintext.startswith(f"apk_{key.prefix}_")
    assert plaintext not in key.key_hash


def test_every_admin_page_renders_for_a_superuser(client, rf):
    appointment = AppointmentFactory()
    ServiceFactory(tenant=appointment.tenant)
    StaffFactory(branch=BranchFactory(tenant=CompanyFactory()))
    superuser = UserFactory(is_superuser=True)
    client.force_login(superuser)
    request = rf.get("/")
    request.user = superuser

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        if model_admin.has_add_permission(request):
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert client.get(add).status_code == 200, add
        first = model_admin.get_queryset(request).first()
        if first is not None:
            assert client.get(_change_url(first)).status_code == 200, opts.label


def test_appointments_cannot_be_added_through_a_raw_form(client):
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse("admin:bookings_appointment_add")).status_code == 403
    assert Appointment.objects.all_tenants().count() == 0
