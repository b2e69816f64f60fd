from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from bookings import services
from bookings.models import Appointment, Customer
from common.errors import ApplicationError
from staff.models import Staff
from tenants.admin_scoping import TenantScopedAdmin, actor_for


class AppointmentMoveForm(forms.ModelForm):
    """Nothing of the appointment is written from this form directly: a move goes through
    `booking_reschedule` (slot and qualification checked, audited, calendar synced, customer
    informed), a cancellation through the list's action."""

    move_to = forms.DateTimeField(
        required=False,
        label="Verschieben auf",
        help_text="Neuer Beginn in der Zeit der Filiale; leer: unverändert.",
    )
    move_staff = forms.ModelChoiceField(
        queryset=Staff.objects.none(),
        required=False,
        label="Neue Mitarbeiterin / neuer Mitarbeiter",
        help_text="Aus derselben Filiale; leer: unverändert.",
    )
    actor = ""

    class Meta:
        model = Appointment
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["move_staff"].queryset = (  # type: ignore[attr-defined]
                Staff.objects.for_tenant(self.instance.tenant_id)
                .filter(branch_id=self.instance.branch_id, is_active=True)
                .order_by("name")
            )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        move_to, staff = cleaned.get("move_to"), cleaned.get("move_staff")
        if self.errors or (move_to is None and staff is None):
            return cleaned
        appointment = self.instance
        # The form reads the operator's wall-clock time; the service takes branch time.
        start = (
            timezone.make_naive(move_to)
            if move_to is not None
            else timezone.make_naive(appointment.start_time, ZoneInfo(appointment.branch.time_zone))
        )
        try:
            services.booking_reschedule(
                tenant=appointment.tenant,
                actor=self.actor,
                appointment_id=appointment.pk,
                start_time=start,
                staff_id=staff.pk if staff is not None else None,
            )
        except ApplicationError as exc:
            self.add_error(None, exc.message)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(TenantScopedAdmin):
    list_display = ("name", "phone", "email", "language", "sms_consent", "created_at")
    list_filter = ("language", "sms_consent", "marketing_consent")
    search_fields = ("phone", "name", "email")
    readonly_fields = ("created_at", "updated_at", "consent_updated_at", "erased_at")


@admin.register(Appointment)
class AppointmentAdmin(TenantScopedAdmin):
    list_display = (
        "confirmation_number",
        "start_time",
        "end_time",
        "customer",
        "service",
        "staff",
        "branch",
        "status",
        "source",
        "sync_status",
    )
    list_filter = (
        "status",
        "branch",
        "source",
        "sync_status",
        ("start_time", admin.DateFieldListFilter),
    )
    search_fields = ("confirmation_number", "customer__phone", "customer__name", "call_id")
    date_hierarchy = "start_time"
    list_select_related = ("customer", "service", "staff", "branch", "tenant")
    form = AppointmentMoveForm
    readonly_fields = (
        "confirmation_number",
        "status",
        "start_time",
        "end_time",
        "branch",
        "service",
        "staff",
        "customer",
        "price",
        "notes",
        "source",
        "call_id",
        "idempotency_key",
        "sync_status",
        "external_calendar_id",
        "cancelled_at",
        "confirmed_at",
        "cancellation_reason",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": readonly_fields}),
        ("Verschieben (über den Buchungsdienst)", {"fields": ("move_to", "move_staff")}),
    )
    actions = ("cancel_appointments",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Bookings are made through the booking service (availability, quota, sync), not a raw form.
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = actor_for(request)  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        # Every field is read-only; a move was made by booking_reschedule in the form's clean().
        return None

    @admin.action(description="Cancel selected appointments")
    def cancel_appointments(
        self, request: HttpRequest, queryset: models.QuerySet[Appointment]
    ) -> None:
        cancelled = 0
        for appointment in queryset.select_related("tenant"):
            try:
                services.booking_cancel(
                    tenant=appointment.tenant,
                    actor=actor_for(request),
                    appointment_id=appointment.pk,
                    reason="cancelled by operations",
                )
                cancelled += 1
            except ApplicationError as exc:
                self.message_user(request, f"{appointment}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{cancelled} appointment(s) cancelled.", messages.SUCCESS)
