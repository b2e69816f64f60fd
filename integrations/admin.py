from django.contrib import admin

from integrations.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Read-only: the record of deliveries applied, for tracing what a provider sent."""

    list_display = ["received_at", "provider", "event_type", "event_id", "tenant"]
    list_filter = ["provider", "event_type"]
    search_fields = ["event_id"]
    readonly_fields = ["provider", "event_id", "event_type", "tenant", "payload", "received_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
