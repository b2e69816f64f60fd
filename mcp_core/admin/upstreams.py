"""External MCP servers (federation upstreams), changed only through the registry's services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from common.errors import ApplicationError
from mcp_core.federation.registry import (
    upstream_register,
    upstream_remove,
    upstream_update,
    upstream_validate,
)
from mcp_core.federation.upkeep import upstream_check
from mcp_core.models import (
    Upstream,
)
from tenants import policy
from tenants.admin_scoping import (
    TenantScopedAdmin,
    actor_for,
    is_superuser,
    operator_tenant,
)
from tenants.models import Company


class UpstreamForm(forms.ModelForm):
    """Credentials are write-only: a JSON object entered here replaces the stored one, an
    empty field keeps it (they are never shown back)."""

    new_credentials = forms.JSONField(
        required=False,
        label=_("Credentials"),
        help_text='JSON object: the stdio environment or the HTTP headers, e.g. {"TOKEN": "…"}. '
        "Empty: keep the stored ones.",
    )

    class Meta:
        model = Upstream
        fields = ("tenant", "slug", "command", "url", "enabled_tools", "role_required", "enabled")

    superuser = False
    operator_tenant: Company | None = None

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.instance.pk is not None or cleaned is None:
            return cleaned
        # The registry's own refusals (reserved or taken slug, transports) as form errors.
        tenant = cleaned.get("tenant") if self.superuser else self.operator_tenant
        try:
            if tenant is not None:
                policy.feature_require(tenant, "federation")
            upstream_validate(
                tenant=tenant,
                slug=cleaned.get("slug") or "",
                command=cleaned.get("command") or None,
                url=cleaned.get("url") or "",
                role=cleaned.get("role_required") or "",
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned

    def clean_new_credentials(self) -> dict[str, str] | None:
        value = self.cleaned_data.get("new_credentials")
        if value in (None, ""):
            return None
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object of names and values.")
        return {str(key): str(item) for key, item in value.items()}


@admin.register(Upstream)
class UpstreamAdmin(TenantScopedAdmin):
    """External MCP servers: registered, changed and removed through the registry's services
    (validation, audit); "Check now" runs the health check and refreshes the tool list."""

    form = UpstreamForm
    list_display = ("slug", "transport", "status", "consecutive_failures", "tool_count")
    list_filter = ("status", "transport", "enabled")
    search_fields = ("slug",)
    list_select_related = ("tenant",)
    actions = ("check_now",)
    readonly_fields = (
        "transport",
        "status",
        "consecutive_failures",
        "last_error",
        "last_checked_at",
        "tool_names",
        "tools_refreshed_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fixed = ("tenant", "slug", "command", "url") if obj is not None else ()
        return (*fixed, *self.readonly_fields)

    @admin.display(description="Tools")
    def tool_count(self, upstream: Upstream) -> int:
        return len(upstream.tools)

    @admin.display(description="Tool names at /mcp")
    def tool_names(self, upstream: Upstream) -> str:
        return ", ".join(f"{upstream.slug}_{tool['name']}" for tool in upstream.tools)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        # The tenant an upstream added here would belong to, for the form's validation.
        form.superuser = is_superuser(request)
        form.operator_tenant = operator_tenant(request)
        return form

    def save_model(self, request: HttpRequest, obj: Upstream, form: Any, change: bool) -> None:
        credentials = form.cleaned_data.get("new_credentials")
        if change:
            upstream_update(
                upstream=obj,
                actor=actor_for(request),
                enabled=obj.enabled,
                enabled_tools=obj.enabled_tools,
                role_required=obj.role_required,
                credentials=credentials,
            )
            return
        created = upstream_register(
            tenant=obj.tenant if is_superuser(request) else operator_tenant(request),
            actor=actor_for(request),
            slug=obj.slug,
            command=obj.command,
            url=obj.url,
            credentials=credentials,
            enabled_tools=obj.enabled_tools,
            role_required=obj.role_required,
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Upstream) -> None:
        upstream_remove(tenant=obj.tenant, actor=actor_for(request), slug=obj.slug)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for upstream in queryset:
            self.delete_model(request, upstream)

    @admin.action(description="Check now (health check and tool list)")
    def check_now(self, request: HttpRequest, queryset: Any) -> None:
        for upstream in queryset:
            outcome = upstream_check(upstream)
            self.message_user(request, f"{outcome.slug}: {outcome.status} {outcome.error}".strip())
