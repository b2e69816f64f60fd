from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from bookings import services
from bookings.models import Appointment, Customer
from common.errors import ApplicationError
from tenants.admin_scoping import TenantScopedAdmin, actor_for


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
    raw_id_fields = ("customer",)
    readonly_fields = (
        "confirmation_number",
        "status",
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
    actions = ("cancel_appointments",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Bookings are made through the booking service (availability, quota, sync), not a raw form.
        return False

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
