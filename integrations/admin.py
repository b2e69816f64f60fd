from django.contrib import admin
from django.forms import PasswordInput

from integrations.models import CalcomAccount, CalcomBusyBlock, CalcomEventType, WebhookEvent
from tenants.admin_scoping import TenantScopedAdmin


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


@admin.register(CalcomAccount)
class CalcomAccountAdmin(TenantScopedAdmin):
    """A tenant's Cal.com credentials; the key is never shown again once saved."""

    list_display = ["tenant", "is_active", "api_url", "has_own_key", "updated_at"]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]
    fields = ["tenant", "api_key", "api_url", "is_active"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "api_key" in form.base_fields:
            # Write-only: an empty field on edit keeps the stored key.
            form.base_fields["api_key"].widget = PasswordInput(render_value=False)
            form.base_fields["api_key"].required = False
        return form

    def save_model(self, request, obj, form, change):
        if change and not form.cleaned_data.get("api_key"):
            obj.api_key = CalcomAccount.objects.get(pk=obj.pk).api_key
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description="own key")
    def has_own_key(self, obj: CalcomAccount) -> bool:
        return bool(obj.api_key)


@admin.register(CalcomEventType)
class CalcomEventTypeAdmin(TenantScopedAdmin):
    list_display = ["service", "event_type_id", "staff"]
    list_select_related = ["service", "staff", "tenant"]
    search_fields = ["service__name", "event_type_id"]
    raw_id_fields = ["service", "staff"]


@admin.register(CalcomBusyBlock)
class CalcomBusyBlockAdmin(TenantScopedAdmin):
    """Read-only: bookings made directly in Cal.com that block our staff's time."""

    list_display = ["booking_uid", "time_block", "created_at"]
    list_select_related = ["time_block__staff", "tenant"]
    search_fields = ["booking_uid"]
    readonly_fields = ["tenant", "booking_uid", "time_block", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
