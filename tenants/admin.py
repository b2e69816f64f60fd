from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.errors import ApplicationError
from mcp_core.models import AuditLog
from tenants import services
from tenants.admin_forms import BranchForm
from tenants.admin_scoping import (
    ReadOnlyTenantAdmin,
    SuperuserOnlyMixin,
    TenantScopedAdmin,
    TenantScopedInline,
    actor_for,
    is_superuser,
    operator_tenant,
)
from tenants.api_keys import toolset_choices
from tenants.models import ApiKey, Branch, Company, OperatorProfile, Subscription


class SubscriptionInline(TenantScopedInline, admin.StackedInline):
    model = Subscription
    can_delete = False
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The plan, its status and features come from Stripe and the platform, not the salon.
        if is_superuser(request):
            return self.readonly_fields
        return [field.name for field in Subscription._meta.fields if field.name != "tenant"]


class BranchInline(TenantScopedInline, admin.TabularInline):
    model = Branch
    fields = ("name", "city", "time_zone", "is_active")
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Branches are added on their own page, where the plan's branch limit is checked.
        return False


@admin.register(Company)
class CompanyAdmin(TenantScopedAdmin):
    list_display = ("name", "slug", "plan", "is_active", "created_at")
    list_filter = ("is_active", "subscription__plan", "subscription__status")
    search_fields = ("name", "slug", "email")
    readonly_fields = ("created_at", "updated_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (SubscriptionInline, BranchInline)
    list_select_related = ("subscription",)

    @admin.display(description=_("plan"), ordering="subscription__plan")
    def plan(self, obj: Company) -> str:
        subscription = getattr(obj, "subscription", None)
        return subscription.plan if subscription else "—"

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # Free-form settings (JSON) are the API's (updateTenantSettings) or a superuser's.
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude if is_superuser(request) else [*exclude, "settings"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New tenants come from `create_tenant` or a superuser, never from a tenant's operator.
        return bool(request.user.is_superuser) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)


@admin.register(Branch)
class BranchAdmin(TenantScopedAdmin):
    list_display = ("name", "city", "time_zone", "is_active", "updated_at")
    list_filter = ("is_active", "city", "time_zone")
    search_fields = ("name", "city", "address", "postal_code")
    readonly_fields = ("uuid", "created_at", "updated_at")
    list_select_related = ("tenant",)
    actions = ("activate_branches", "deactivate_branches")
    form = BranchForm
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    ("address", "postal_code", "city", "country"),
                    ("phone", "email"),
                    ("latitude", "longitude"),
                    "time_zone",
                    "is_active",
                )
            },
        ),
        (_("Opening hours"), {"fields": ("opening_hours",)}),
        (_("Booking settings"), {"fields": ("slot_interval_minutes", "min_notice_minutes")}),
        (_("Record"), {"fields": ("uuid", "created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if not is_superuser(request):
            return self.fieldsets
        main, *rest = self.fieldsets
        return ((main[0], {**main[1], "fields": ("tenant", *main[1]["fields"])}), *rest)

    def save_model(self, request: HttpRequest, obj: Branch, form: Any, change: bool) -> None:
        # Hours and settings go through the service the API uses (validated, audited, the
        # tenant cache cleared); the form checked them with the same rules already.
        super().save_model(request, obj, form, change)
        services.branch_update(
            tenant=obj.tenant,
            actor=actor_for(request),
            branch_id=obj.pk,
            changes=form.service_changes(),
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"request_tenant": operator_tenant(request)})

    def _set_active(
        self, request: HttpRequest, queryset: models.QuerySet[Branch], active: bool
    ) -> None:
        changed = 0
        for branch in queryset.select_related("tenant"):
            services.branch_set_active(
                tenant=branch.tenant, actor=actor_for(request), branch=branch, is_active=active
            )
            changed += 1
        if active:
            text = ngettext("%(n)d branch activated.", "%(n)d branches activated.", changed)
        else:
            text = ngettext("%(n)d branch deactivated.", "%(n)d branches deactivated.", changed)
        self.message_user(request, text % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("Activate selected branches"))
    def activate_branches(self, request: HttpRequest, queryset: models.QuerySet[Branch]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description=_("Deactivate selected branches"))
    def deactivate_branches(self, request: HttpRequest, queryset: models.QuerySet[Branch]) -> None:
        self._set_active(request, queryset, False)


class ApiKeyForm(forms.ModelForm):
    toolsets = forms.MultipleChoiceField(
        label=_("MCP toolsets"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "The services whose tools an MCP client of this key lists when it names none "
            "(none ticked: booking and customer)."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("toolsets")
        if isinstance(field, forms.MultipleChoiceField):
            field.choices = [(name, name) for name in toolset_choices()]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    form = ApiKeyForm
    list_display = (
        "prefix",
        "name",
        "role",
        "toolsets",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # An operator's key is their tenant's (TenantScopedAdmin excludes the field).
        fields = (
            "name",
            "role",
            "toolsets",
            "expires_at",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        return ("tenant", *fields) if request.user.is_superuser else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        issued = ("prefix", "created_at", "last_used_at", "revoked_at")
        if obj is None:
            return issued
        # A key's role is fixed at issue (issue a new key and revoke the old one to change it);
        # only its toolsets change afterwards.
        return ("tenant", "name", "role", "expires_at", *issued)

    list_select_related = ("tenant",)
    actions = ("revoke_keys",)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        toolsets = list(form.cleaned_data.get("toolsets") or [])
        if change:
            services.api_key_set_toolsets(
                tenant=obj.tenant, actor=actor_for(request), api_key=obj, toolsets=toolsets
            )
            return
        tenant = obj.tenant if request.user.is_superuser else operator_tenant(request)
        assert tenant is not None, "the add form is only reachable for a tenant"  # noqa: S101
        created = services.api_key_create(
            tenant=tenant,
            actor=actor_for(request),
            role=obj.role,
            name=obj.name,
            toolsets=toolsets,
        )
        obj.pk = created.api_key.pk
        self.message_user(
            request,
            f"New API key (shown once, store it now): {created.plaintext}",
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected API keys"))
    def revoke_keys(self, request: HttpRequest, queryset: models.QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.select_related("tenant"):
            try:
                services.api_key_revoke(tenant=key.tenant, actor=actor_for(request), api_key=key)
                revoked += 1
            except ApplicationError as exc:
                self.message_user(request, f"{key}: {exc.message}", messages.WARNING)
        text = ngettext("%(n)d key revoked.", "%(n)d keys revoked.", revoked)
        self.message_user(request, text % {"n": revoked}, messages.SUCCESS)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor", "action", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)


@admin.register(OperatorProfile)
class OperatorProfileAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "tenant")
    list_select_related = ("user", "tenant")
    raw_id_fields = ("user",)


User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class SuperuserOnlyUserAdmin(SuperuserOnlyMixin, UserAdmin):
    pass


@admin.register(Group)
class SuperuserOnlyGroupAdmin(SuperuserOnlyMixin, GroupAdmin):
    pass
