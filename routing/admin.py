from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from pydantic import ValidationError

from mcp_core.audit import audit_record
from mcp_core.orchestrator import validation_details
from routing.contracts import RoutingRuleIn
from routing.models import CallLog, PhoneNumber, RoutingRule
from tenants.admin import BranchAdmin
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedInline, actor_for
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


class RoutingRuleForm(forms.ModelForm):
    """The rules of the updateRoutingRules operation, so admin edits are no back door:
    conditions, action and targets validated by the same pydantic model, branches of the
    rule's own tenant, targets active."""

    class Meta:
        model = RoutingRule
        fields = (
            "tenant",
            "name",
            "branch",
            "priority",
            "conditions",
            "action",
            "target_branch",
            "target_agent_id",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        branch, target = cleaned.get("branch"), cleaned.get("target_branch")
        try:
            rule = RoutingRuleIn.model_validate(
                {
                    "name": cleaned.get("name") or "-",
                    "priority": cleaned.get("priority", 100),
                    "branch_id": branch.pk if branch else None,
                    "conditions": cleaned.get("conditions") or {},
                    "action": cleaned.get("action"),
                    "target_branch_id": target.pk if target else None,
                    "target_agent_id": cleaned.get("target_agent_id") or None,
                    "is_active": cleaned.get("is_active", True),
                }
            )
        except ValidationError as exc:
            for field, messages in validation_details(exc).items():
                name = field.split(".", 1)[0]
                self.add_error(name if name in self.fields else None, f"{field}: {messages}")
            return cleaned
        cleaned["conditions"] = rule.conditions.as_json()
        # A superuser picks the tenant on the form; an operator's choices are already scoped
        # to their tenant (TenantScopedAdmin), so only the former needs the cross-check.
        tenant = cleaned.get("tenant")
        tenant_id = tenant.pk if tenant is not None else self.instance.tenant_id
        if tenant_id is not None:
            for field, chosen in (("branch", branch), ("target_branch", target)):
                if chosen is not None and chosen.tenant_id != tenant_id:
                    self.add_error(field, "Not a branch of this rule's tenant.")
        if target is not None and not target.is_active:
            self.add_error("target_branch", "Not an active branch.")
        if target is not None and branch is not None and target.pk == branch.pk:
            self.add_error("target_branch", "Must differ from the rule's branch.")
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(TenantScopedAdmin):
    form = RoutingRuleForm
    list_display = ("priority", "name", "branch", "action", "target_branch", "is_active")
    list_filter = ("is_active", "action", "branch")
    search_fields = ("name",)
    list_select_related = ("branch", "target_branch", "tenant")
    readonly_fields = ("created_at", "updated_at")

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
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
