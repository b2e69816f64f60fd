from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from routing.models import CallLog, PhoneNumber, RoutingRule
from tenants.admin_scoping import TenantScopedAdmin


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdmin):
    list_display = ("number", "branch", "retell_agent_id", "language", "is_active")
    list_filter = ("is_active", "branch", "language")
    search_fields = ("number", "retell_agent_id")
    list_select_related = ("branch", "tenant")
    readonly_fields = ("created_at",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(TenantScopedAdmin):
    list_display = ("priority", "name", "branch", "action", "target_branch", "is_active")
    list_filter = ("is_active", "action", "branch")
    search_fields = ("name",)
    list_select_related = ("branch", "target_branch", "tenant")
    readonly_fields = ("created_at", "updated_at")


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
