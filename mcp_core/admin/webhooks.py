"""The tenant's outbound webhook endpoints (their URL and events checked by the outbound
services; the signing secret shown once)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from common.errors import ApplicationError
from integrations.outbound import services as outbound
from mcp_core.models import (
    WebhookEndpoint,
)
from mcp_core.webhooks_out import new_secret
from tenants.admin_scoping import (
    TenantScopedAdmin,
)


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
