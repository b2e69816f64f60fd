"""Feature flags: superusers only, every change audited, with a kill switch."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mcp_core import flags
from mcp_core.models import (
    FeatureFlag,
    FeatureFlagChange,
)
from tenants.admin_scoping import (
    actor_for,
)
from tenants.enums import Plan


class FeatureFlagForm(forms.ModelForm):
    plans = forms.MultipleChoiceField(
        choices=Plan.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Plans"),
        help_text="On for tenants whose plan in force is one of these.",
    )

    class Meta:
        model = FeatureFlag
        fields = ("name", "description", "state", "tenants", "plans", "percentage", "killed")


class FeatureFlagChangeInline(admin.TabularInline):
    model = FeatureFlagChange
    fields = ("created_at", "actor", "action", "changes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FeatureFlag)
class FeatureFlagAdmin(admin.ModelAdmin):
    """Flags span tenants: only a superuser sees or changes them. Every save and the kill switch
    are audited (the flag's changes, listed on its page) and reach every worker."""

    form = FeatureFlagForm
    list_display = ("name", "state", "percentage", "killed", "updated_at")
    list_filter = ("state", "killed")
    search_fields = ("name", "description")
    filter_horizontal = ("tenants",)
    inlines = (FeatureFlagChangeInline,)
    actions = ("kill_flags", "revive_flags")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # turn a flag off or kill it; its history stays

    def save_model(self, request: HttpRequest, obj: FeatureFlag, form: Any, change: bool) -> None:
        before = flags.flag_state(FeatureFlag.objects.get(pk=obj.pk)) if change else {}
        request._flag_before = before  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before: dict[str, Any] = getattr(request, "_flag_before", {})
        after = flags.flag_state(form.instance)
        diff = {
            key: [before.get(key), value]
            for key, value in after.items()
            if before.get(key) != value
        }
        if diff:
            flags.flag_changed(
                actor=actor_for(request),
                flag=form.instance,
                action="flag.changed" if change else "flag.created",
                changes=diff,
            )

    @admin.action(description="Kill switch: turn the selected flags off for every tenant")
    def kill_flags(self, request: HttpRequest, queryset: models.QuerySet[FeatureFlag]) -> None:
        for flag in queryset:
            flags.flag_kill(actor=actor_for(request), flag=flag, killed=True)
        self.message_user(request, f"{queryset.count()} flag(s) killed.", messages.WARNING)

    @admin.action(description="Revive the selected flags (their rules apply again)")
    def revive_flags(self, request: HttpRequest, queryset: models.QuerySet[FeatureFlag]) -> None:
        for flag in queryset:
            flags.flag_kill(actor=actor_for(request), flag=flag, killed=False)
        self.message_user(request, f"{queryset.count()} flag(s) revived.", messages.SUCCESS)
