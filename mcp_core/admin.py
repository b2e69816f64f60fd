"""Read-only console for saga runs (what ran, what was undone, which runs need an operator),
the outbox (which side effects wait or were dead-lettered, with a "deliver again" action), and
the feature flags (superusers only, every change audited, with a kill switch).

Nothing here changes a run: state is written by `mcp_core.saga` alone, and a `failed` run is
resolved by an operator fixing its effects by hand or through the owning app's services.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.errors import ApplicationError
from integrations.outbound import services as outbound
from mcp_core import flags, outbox
from mcp_core.federation.registry import (
    upstream_register,
    upstream_remove,
    upstream_update,
    upstream_validate,
)
from mcp_core.federation.upkeep import upstream_check
from mcp_core.models import (
    FeatureFlag,
    FeatureFlagChange,
    OutboxMessage,
    SagaRun,
    Upstream,
    WebhookEndpoint,
)
from mcp_core.webhooks_out import new_secret
from tenants.admin_scoping import (
    ReadOnlyTenantAdmin,
    SuperuserOnlyMixin,
    TenantScopedAdmin,
    actor_for,
    is_superuser,
    operator_tenant,
)
from tenants.enums import Plan
from tenants.models import Company


@admin.register(SagaRun)
class SagaRunAdmin(SuperuserOnlyMixin, ReadOnlyTenantAdmin):
    list_display = ("created_at", "name", "status", "current_step", "attempts", "updated_at")
    list_filter = ("status", "name", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    fields = (
        "id",
        "tenant",
        "name",
        "status",
        "current_step",
        "error",
        "attempts",
        "idempotency_key",
        "step_table",
        "context",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description=_("Steps"))
    def step_table(self, run: SagaRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    index,
                    step.get("name", ""),
                    step.get("status", ""),
                    step.get("error") or "",
                    step.get("started_at") or "",
                    step.get("finished_at") or "",
                )
                for index, step in enumerate(run.steps or [])
            ),
        )
        head = mark_safe(
            "<tr><th>#</th><th>step</th><th>status</th><th>error</th>"
            "<th>started</th><th>finished</th></tr>"
        )
        return format_html("<table>{}{}</table>", head, rows)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Any], search_term: str
    ) -> tuple[models.QuerySet[Any], bool]:
        # Operators arrive with the run_id of an error envelope; ids are matched exactly.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            run_id = uuid.UUID(search_term.strip())
        except ValueError:
            return queryset, may_have_duplicates
        return queryset | self.get_queryset(request).filter(pk=run_id), may_have_duplicates


@admin.register(OutboxMessage)
class OutboxMessageAdmin(SuperuserOnlyMixin, ReadOnlyTenantAdmin):
    """The side effects waiting, delivered and dead-lettered. Filter status "dead" for what
    needs an operator; "Deliver again" puts messages back through `mcp_core.outbox.retry`
    (the same path as integration.retryFailedSync), audited as the operator."""

    list_display = ("created_at", "topic", "status", "attempts", "next_attempt_at", "short_error")
    list_filter = ("status", "topic")
    search_fields = ("dedupe_key", "last_error")
    list_select_related = ("tenant",)
    fields = (
        "tenant",
        "topic",
        "status",
        "payload",
        "attempts",
        "next_attempt_at",
        "last_error",
        "result",
        "dedupe_key",
        "created_at",
        "updated_at",
        "delivered_at",
    )
    readonly_fields = fields
    actions = ("deliver_again",)

    @admin.display(description=_("last error"))
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    @admin.action(description=_("Deliver again (dead or pending messages)"))
    def deliver_again(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        requeued = outbox.retry(queryset, actor=actor_for(request))
        text = ngettext(
            "%(n)d message queued for delivery.",
            "%(n)d messages queued for delivery.",
            len(requeued),
        )
        self.message_user(request, text % {"n": len(requeued)})


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


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "events", "description", "active")
        help_texts = {"events": 'A JSON list of event names (docs/events.md), or ["*"].'}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            if "url" in data:
                outbound.check_url(data["url"])
            if "events" in data:
                events = data["events"]
                if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                    raise forms.ValidationError({"events": "A JSON list of event names."})
                data["events"] = outbound.check_events(events)
        except ApplicationError as exc:
            raise forms.ValidationError(
                {key: messages for key, messages in exc.details.items()}
            ) from exc
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    """The tenant's outbound webhook endpoints. The signing secret is shown once, when the
    endpoint is added; deliveries are outbox messages (topic webhook.deliver) on the outbox
    page, where dead ones are delivered again."""

    form = WebhookEndpointForm
    list_display = ("url", "events", "active", "created_at")
    list_filter = ("active",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.secret = new_secret()
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"Signing secret (shown only now): {obj.secret}",
                level=messages.WARNING,
            )


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
