from typing import Any

from django import forms
from django.contrib import admin
from django.forms import PasswordInput
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bookings.notifications.texts import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    sms_template_errors,
    sms_template_reset,
    sms_template_set,
)
from integrations.models import (
    CalcomAccount,
    CalcomBusyBlock,
    CalcomEventType,
    SmsMessage,
    SmsTemplate,
    StripeCharge,
    WebhookEvent,
)
from tenants import policy
from tenants.admin_scoping import (
    ReadOnlyTenantAdmin,
    SuperuserOnlyMixin,
    TenantScopedAdmin,
    actor_for,
    operator_tenant,
)


@admin.register(WebhookEvent)
class WebhookEventAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    """Read-only, for superusers only: the record of deliveries applied, for tracing what a
    provider sent. Payloads span tenants (a delivery may name none), and a deleted row would
    let the delivery be replayed, so nobody deletes one here."""

    list_display = ["received_at", "provider", "event_type", "event_id", "tenant"]
    list_filter = ["provider", "event_type"]
    search_fields = ["event_id"]
    readonly_fields = ["provider", "event_id", "event_type", "tenant", "payload", "received_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ----------------------------------------------------------------------------- SMS, billing

_PLACEHOLDER_HELP = "Platzhalter: " + ", ".join(
    f"{{{name}}} ({meaning})" for name, meaning in PLACEHOLDERS.items()
)


class SmsTemplateForm(forms.ModelForm):
    class Meta:
        model = SmsTemplate
        fields = ["tenant", "kind", "body"]
        help_texts = {"body": _PLACEHOLDER_HELP}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, body = cleaned.get("kind"), cleaned.get("body")
        if kind and body is not None:
            for message in sms_template_errors(kind, body):
                self.add_error("body", message)
        return cleaned


@admin.register(SmsTemplate)
class SmsTemplateAdmin(TenantScopedAdmin):
    """A tenant's own SMS wording; saved and deleted through the service (checked, audited)."""

    form = SmsTemplateForm
    list_display = ["kind", "body", "updated_at"]
    list_filter = ["kind"]
    readonly_fields = ["default_text", "updated_at"]

    @admin.display(description="Standardtext")
    def default_text(self, obj: SmsTemplate) -> str:
        return DEFAULT_TEMPLATES.get(obj.kind, "") if obj.kind else ""

    def save_model(self, request: HttpRequest, obj: SmsTemplate, form: Any, change: bool) -> None:
        tenant = operator_tenant(request) if not request.user.is_superuser else obj.tenant
        saved = sms_template_set(
            tenant=tenant or obj.tenant, actor=actor_for(request), kind=obj.kind, body=obj.body
        )
        obj.pk, obj.tenant = saved.pk, saved.tenant

    def delete_model(self, request: HttpRequest, obj: SmsTemplate) -> None:
        sms_template_reset(tenant=obj.tenant, actor=actor_for(request), kind=obj.kind)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for template in queryset.select_related("tenant"):
            self.delete_model(request, template)


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyTenantAdmin):
    """Every SMS sent or tried, with what the provider last reported."""

    list_display = ["created_at", "kind", "to", "status", "error_code", "provider"]
    list_filter = ["status", "kind", "provider"]
    search_fields = ["to", "provider_sid"]
    raw_id_fields = ["appointment"]
    list_select_related = ["tenant"]


@admin.register(StripeCharge)
class StripeChargeAdmin(ReadOnlyTenantAdmin):
    """Usage charges and whether Stripe took them."""

    list_display = ["created_at", "description", "amount_cents", "currency", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["idempotency_key", "stripe_invoice_item_id"]
    list_select_related = ["tenant"]


class CalcomAccountForm(forms.ModelForm):
    """A Cal.com account is the calendar sync: only for a plan that has `calendar_sync`. The
    request's tenant (an operator's) is set by CalcomAccountAdmin."""

    request_tenant: Any = None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        tenant = cleaned.get("tenant") or self.request_tenant
        if self.instance.pk is None and tenant is not None:
            refusal = policy.feature_refusal(tenant, "calendar_sync")
            if refusal is not None:
                raise forms.ValidationError(refusal.message)
        return cleaned


@admin.register(CalcomAccount)
class CalcomAccountAdmin(TenantScopedAdmin):
    """A tenant's Cal.com credentials; the key is never shown again once saved."""

    list_display = ["tenant", "is_active", "api_url", "has_own_key", "updated_at"]
    list_filter = ["is_active"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One account per tenant: an operator whose tenant has one changes it instead.
        tenant = operator_tenant(request)
        if (
            not request.user.is_superuser
            and tenant is not None
            and CalcomAccount.objects.for_tenant(tenant).exists()
        ):
            return False
        return super().has_add_permission(request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # An operator's account is their tenant's (TenantScopedAdmin excludes the field).
        fields = ["api_key", "api_url", "is_active", "webhook_setup"]
        return ["tenant", *fields] if request.user.is_superuser else fields

    readonly_fields = ["webhook_setup"]

    @admin.display(description="Webhook in Cal.com")
    def webhook_setup(self, obj: CalcomAccount) -> str:
        # The operator enters this secret in Cal.com; deliveries for the tenant are verified
        # with it (integrations.calcom.webhook). Shown only once the account is saved.
        if obj.pk is None:
            return "—"
        return f"URL /webhooks/calcom · Secret {obj.webhook_secret}"

    form = CalcomAccountForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        form.request_tenant = operator_tenant(request)
        if "api_key" in form.base_fields:
            # Write-only: an empty field on edit keeps the stored key.
            form.base_fields["api_key"].widget = PasswordInput(render_value=False)
            form.base_fields["api_key"].required = False
        return form

    def save_model(self, request, obj, form, change):
        if change and not form.cleaned_data.get("api_key"):
            obj.api_key = CalcomAccount.objects.for_tenant(obj.tenant_id).get(pk=obj.pk).api_key
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description=_("own key"))
    def has_own_key(self, obj: CalcomAccount) -> bool:
        return bool(obj.api_key)


@admin.register(CalcomEventType)
class CalcomEventTypeAdmin(TenantScopedAdmin):
    list_display = ["service", "event_type_id", "staff"]
    list_select_related = ["service", "staff", "tenant"]
    search_fields = ["service__name", "event_type_id"]
    raw_id_fields = ["service", "staff"]


@admin.register(CalcomBusyBlock)
class CalcomBusyBlockAdmin(SuperuserOnlyMixin, TenantScopedAdmin):
    """Read-only: bookings made directly in Cal.com that block our staff's time."""

    list_display = ["booking_uid", "time_block", "created_at"]
    list_select_related = ["time_block__staff", "tenant"]
    search_fields = ["booking_uid"]
    readonly_fields = ["tenant", "booking_uid", "time_block", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
