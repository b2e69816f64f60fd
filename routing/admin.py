from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mcp_core.audit import audit_record
from routing.admin_forms import RoutingRuleForm
from routing.models import CallLog, PhoneNumber, RoutingRule
from tenants.admin import BranchAdmin
from tenants.admin_scoping import (
    TenantScopedAdmin,
    TenantScopedInline,
    actor_for,
    is_superuser,
)
from tenants.models import Branch


class PhoneNumberInline(TenantScopedInline, admin.TabularInline):
    model = PhoneNumber
    fields = ("number", "retell_agent_id", "language", "is_active")


# The branch page lists the branch's phone numbers; routing sits above tenants, so it adds them.
admin.site.unregister(Branch)


@admin.register(Branch)
class BranchWithPhoneNumbersAdmin(BranchAdmin):
    inlines = (PhoneNumberInline,)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdmin):
    list_display = ("number", "branch", "retell_agent_id", "language", "is_active")
    list_filter = ("is_active", "branch", "language")
    search_fields = ("number", "retell_agent_id")
    list_select_related = ("branch", "tenant")
    readonly_fields = ("created_at",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(TenantScopedAdmin):
    form = RoutingRuleForm
    list_display = ("priority", "name", "branch", "action", "target_branch", "is_active")
    list_filter = ("is_active", "action", "branch")
    search_fields = ("name",)
    list_select_related = ("branch", "target_branch", "tenant")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "branch", "priority", "is_active")}),
        (
            _("Conditions (all that are set must hold)"),
            {"fields": ("time_windows", "languages", "min_ongoing_calls")},
        ),
        (_("Routing action"), {"fields": ("action", "target_branch", "target_agent_id")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if not is_superuser(request):
            return self.fieldsets
        (title, main), *rest = self.fieldsets
        return ((title, {**main, "fields": ("tenant", *main["fields"])}), *rest)

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # As the operation stores them: normalised by RuleConditions (the form's clean).
        obj.conditions = form.cleaned_data["conditions"]
        super().save_model(request, obj, form, change)
        audit_record(
            tenant=obj.tenant,
            actor=actor_for(request),
            action="routing.rule_changed" if change else "routing.rule_created",
            obj=obj,
            changes={field: str(form.cleaned_data.get(field)) for field in form.changed_data},
        )

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            tenant=obj.tenant, actor=actor_for(request), action="routing.rule_deleted", obj=obj
        )
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rule in queryset:
            actor = actor_for(request)
            audit_record(tenant=rule.tenant, actor=actor, action="routing.rule_deleted", obj=rule)
        super().delete_queryset(request, queryset)


@admin.register(CallLog)
class CallLogAdmin(TenantScopedAdmin):
    list_display = (
        "call_id",
        "started_at",
        "from_number",
        "to_number",
        "branch",
        "status",
        "outcome",
        "duration_seconds",
    )
    list_filter = ("status", "outcome", "branch", ("started_at", admin.DateFieldListFilter))
    search_fields = ("call_id", "from_number", "to_number", "customer__name")
    date_hierarchy = "started_at"
    list_select_related = ("branch", "customer", "appointment", "tenant")
    raw_id_fields = ("customer", "appointment")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # calls are recorded from Retell's webhooks

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The call record is evidence; only the links to customer and appointment may be fixed.
        editable = {"customer", "appointment", "outcome"}
        return [f.name for f in self.model._meta.fields if f.name not in editable]
