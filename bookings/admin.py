from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bookings import customer_views, services
from bookings.admin_forms import AppointmentMoveForm, CancelForm
from bookings.models import Appointment, Customer
from common.errors import ApplicationError
from common.phone import InvalidPhoneNumber, normalize_phone
from tenants.admin_scoping import TenantScopedAdmin, actor_for


@admin.register(Customer)
class CustomerAdmin(TenantScopedAdmin):
    """One screen per customer: profile, appointments, calls (with their summary) and SMS;
    GDPR export and erasure for those allowed to delete customers, through the services."""

    list_display = ("name", "phone", "email", "language", "sms_consent", "created_at")
    list_filter = ("language", "sms_consent", "marketing_consent")
    search_fields = ("phone", "name", "email")
    readonly_fields = (
        "created_at",
        "updated_at",
        "consent_updated_at",
        "erased_at",
        "appointment_table",
        "call_table",
        "sms_table",
    )
    actions = ("export_data", "erase_data")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        history = ("appointment_table", "call_table", "sms_table")
        fieldsets[0][1]["fields"] = [f for f in fieldsets[0][1]["fields"] if f not in history]
        if obj is not None:
            fieldsets.append((_("History"), {"fields": history}))
        return fieldsets

    @admin.display(description=_("Appointments"))
    def appointment_table(self, customer: Customer) -> str:
        rows = customer_views.appointment_rows(customer)
        return customer_views.table(
            (_("Start"), _("Service"), _("Staff member"), _("Status")), rows, _("No appointments.")
        )

    @admin.display(description=_("Calls"))
    def call_table(self, customer: Customer) -> str:
        rows = customer_views.call_rows(customer)
        return customer_views.table((_("Time"), _("Outcome"), _("Summary")), rows, _("No calls."))

    @admin.display(description=_("SMS"))
    def sms_table(self, customer: Customer) -> str:
        rows = customer_views.sms_rows(customer)
        return customer_views.table((_("Sent at"), _("Kind"), _("Status")), rows, _("No SMS."))

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Any], search_term: str
    ) -> tuple[models.QuerySet[Any], bool]:
        # "0170 98765432", "+49 170 …" and "0049170…" find the same customer: the term is
        # normalised to E.164 as the API does with a caller's number.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = normalize_phone(search_term)
        except InvalidPhoneNumber:
            return queryset, may_have_duplicates
        return queryset | self.get_queryset(request).filter(phone=phone), may_have_duplicates

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not self.has_delete_permission(request):
            # Personal data is disclosed and erased only by those allowed to delete customers.
            actions.pop("export_data", None)
            actions.pop("erase_data", None)
        return actions

    @admin.action(description=_("GDPR: export data (JSON)"), permissions=["delete"])
    def export_data(self, request: HttpRequest, queryset: models.QuerySet[Customer]) -> Any:
        exported = [
            customer_views.export_json(customer, actor_for(request))
            for customer in queryset.select_related("tenant")
        ]
        response = JsonResponse(exported, safe=False, json_dumps_params={"ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="kundendaten.json"'
        return response

    @admin.action(description=_("GDPR: erase data"), permissions=["delete"])
    def erase_data(self, request: HttpRequest, queryset: models.QuerySet[Customer]) -> Any:
        """First the confirmation page; its submit comes back with `confirm` set."""
        if "confirm" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": _("Erase customer data"),
                "opts": self.model._meta,
                "customers": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/bookings/customer/erase.html", context)
        erased = 0
        for customer in queryset.select_related("tenant"):
            services.customer_erase(
                tenant=customer.tenant, actor=actor_for(request), customer_id=customer.pk
            )
            erased += 1
        text = ngettext("%(n)d customer erased.", "%(n)d customers erased.", erased)
        self.message_user(request, text % {"n": erased}, messages.SUCCESS)
        return None


@admin.register(Appointment)
class AppointmentAdmin(TenantScopedAdmin):
    list_display = (
        "confirmation_number",
        "local_start",
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
        "local_start",
        "local_end",
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
        (
            _("Reschedule (through the booking service)"),
            {"fields": ("move_slot", "move_to", "move_staff")},
        ),
    )
    actions = ("confirm_appointments", "cancel_appointments", "mark_no_show")

    @admin.display(description=_("Start (branch time)"), ordering="start_time")
    def local_start(self, appointment: Appointment) -> str:
        zone = ZoneInfo(appointment.branch.time_zone)
        return f"{timezone.localtime(appointment.start_time, zone):%d.%m.%Y %H:%M}"

    @admin.display(description=_("End (branch time)"), ordering="end_time")
    def local_end(self, appointment: Appointment) -> str:
        zone = ZoneInfo(appointment.branch.time_zone)
        return f"{timezone.localtime(appointment.end_time, zone):%d.%m.%Y %H:%M}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Bookings are made through the booking service (availability, quota, sync), not a raw form.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An appointment is cancelled (audited, slot freed, customer told), never deleted.
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

    def _each(self, request: HttpRequest, queryset: models.QuerySet[Appointment], call: Any) -> int:
        """Runs `call(appointment)` (one service call) for each selected appointment; a refusal
        is reported per appointment in the service's words. Returns how many succeeded."""
        done = 0
        for appointment in queryset.select_related("tenant", "branch"):
            try:
                call(appointment)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{appointment}: {exc.message}", messages.WARNING)
        return done

    @admin.action(description=_("Confirm"), permissions=["change"])
    def confirm_appointments(
        self, request: HttpRequest, queryset: models.QuerySet[Appointment]
    ) -> None:
        done = self._each(
            request,
            queryset,
            lambda a: services.booking_confirm(
                tenant=a.tenant, actor=actor_for(request), appointment_id=a.pk
            ),
        )
        text = ngettext("%(n)d appointment confirmed.", "%(n)d appointments confirmed.", done)
        self.message_user(request, text % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Not shown up"), permissions=["change"])
    def mark_no_show(self, request: HttpRequest, queryset: models.QuerySet[Appointment]) -> None:
        done = self._each(
            request,
            queryset,
            lambda a: services.booking_mark_no_show(
                tenant=a.tenant, actor=actor_for(request), appointment_id=a.pk
            ),
        )
        text = ngettext(
            "%(n)d appointment marked as not shown up.",
            "%(n)d appointments marked as not shown up.",
            done,
        )
        self.message_user(request, text % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Cancel …"), permissions=["change"])
    def cancel_appointments(
        self, request: HttpRequest, queryset: models.QuerySet[Appointment]
    ) -> TemplateResponse | None:
        """First the confirmation page (reason, SMS or not); its submit comes back here with
        `confirm` set and cancels through `booking_cancel`."""
        form = CancelForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": _("Cancel appointments"),
                "opts": self.model._meta,
                "appointments": queryset.select_related("branch", "customer", "service"),
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/bookings/appointment/cancel.html", context)
        reason, notify = form.cleaned_data["reason"], form.cleaned_data["notify_customer"]
        done = self._each(
            request,
            queryset,
            lambda a: services.booking_cancel(
                tenant=a.tenant,
                actor=actor_for(request),
                appointment_id=a.pk,
                reason=reason,
                notify_customer=notify,
            ),
        )
        text = ngettext("%(n)d appointment cancelled.", "%(n)d appointments cancelled.", done)
        self.message_user(request, text % {"n": done}, messages.SUCCESS)
        return None
