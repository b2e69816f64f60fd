from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from staff.admin_forms import ServiceForm, WorkingHoursForm, WorkingHoursFormSet
from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from staff.services import staff_branch_room_check, staff_schedule_update
from tenants.admin_forms import TextListField
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedInline, actor_for
from tenants.errors import PlanLimitReached
from tenants.validators import LANGUAGE_PATTERN


@admin.register(Service)
class ServiceAdmin(TenantScopedAdmin):
    form = ServiceForm
    list_display = (
        "name",
        "duration_minutes",
        "price",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "is_active",
    )
    list_filter = ("is_active", "branches")
    search_fields = ("name", "description")
    filter_horizontal = ("branches",)
    readonly_fields = ("created_at", "updated_at")


class StaffServiceInline(TenantScopedInline, admin.TabularInline):
    model = StaffService
    fields = ("service", "skill_level")


class WorkingHoursInline(TenantScopedInline, admin.TabularInline):
    model = WorkingHours
    form = WorkingHoursForm
    formset = WorkingHoursFormSet
    fields = ("weekday", "start_time", "end_time", "breaks")


class TimeBlockInline(TenantScopedInline, admin.TabularInline):
    model = TimeBlock
    fields = ("kind", "start_time", "end_time", "reason")


class StaffForm(forms.ModelForm):
    """An active member new at a branch (added, moved, made active) needs room under the plan's
    staff per branch; the admin's save runs in the transaction that holds the branch lock."""

    languages = TextListField(
        pattern=LANGUAGE_PATTERN,
        lower=True,
        label=_("languages"),
        help_text=_("Two-letter codes separated by commas, e.g. “de, en”."),
        error_messages={"invalid": _("Not a two-letter language code: %(items)s")},
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        branch, active = cleaned.get("branch"), cleaned.get("is_active")
        if branch is None or not active:
            return cleaned
        staff = self.instance
        was_active = self.initial.get("is_active", True)
        if staff.pk is None or staff.branch_id != branch.pk or not was_active:
            try:
                staff_branch_room_check(
                    tenant=branch.tenant, branch_id=branch.pk, staff_id=staff.pk
                )
            except PlanLimitReached as exc:
                raise forms.ValidationError({"branch": exc.message}) from exc
        return cleaned


@admin.register(Staff)
class StaffAdmin(TenantScopedAdmin):
    form = StaffForm
    list_display = ("name", "branch", "email", "phone", "rating", "is_active")
    list_filter = ("is_active", "branch")
    search_fields = ("name", "email", "phone")
    readonly_fields = ("created_at", "updated_at")
    list_select_related = ("branch", "tenant")
    inlines = (StaffServiceInline, WorkingHoursInline, TimeBlockInline)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if not isinstance(formset, WorkingHoursFormSet):
            super().save_formset(request, form, formset, change)
            return
        # The rows are one week, replaced as the API replaces it (checked, audited, the
        # schedule caches dropped).
        staff = form.instance
        # What the admin's change message reads of a saved formset; the audit row is the
        # service's.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        staff_schedule_update(
            tenant=staff.tenant,
            actor=actor_for(request),
            staff_id=staff.pk,
            schedule=formset.schedule(),
        )


@admin.register(TimeBlock)
class TimeBlockAdmin(TenantScopedAdmin):
    list_display = ("staff", "kind", "start_time", "end_time", "reason")
    list_filter = ("kind", "staff__branch", ("start_time", admin.DateFieldListFilter))
    search_fields = ("staff__name", "reason")
    date_hierarchy = "start_time"
    list_select_related = ("staff__branch", "tenant")
    raw_id_fields = ("staff",)
    readonly_fields = ("created_at",)
