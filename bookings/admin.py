from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bookings import services
from bookings.models import Appointment, Customer
from common.errors import ApplicationError
from common.phone import InvalidPhoneNumber, normalize_phone
from staff.models import Staff
from tenants.admin_scoping import TenantScopedAdmin, actor_for


class AppointmentMoveForm(forms.ModelForm):
    """Nothing of the appointment is written from this form directly: a move goes through
    `booking_reschedule` (slot and qualification checked, audited, calendar synced, customer
    informed), a cancellation through the list's action."""

    move_to = forms.DateTimeField(
        required=False,
        label=_("Move to"),
        help_text=_("New start in the branch's time; empty: unchanged."),
    )
    move_staff = forms.ModelChoiceField(
        queryset=Staff.objects.none(),
        required=False,
        label=_("New staff member"),
        help_text=_("From the same branch; empty: unchanged."),
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


class CancelForm(forms.Form):
    """The confirmation step of "Stornieren": why, and whether the customer gets the SMS."""

    reason = forms.CharField(label=_("Reason"), max_length=255)
    notify_customer = forms.BooleanField(
        label=_("Inform the customer by SMS"), required=False, initial=True
    )


@admin.register(Customer)
class CustomerAdmin(TenantScopedAdmin):
    list_display = ("name", "phone", "email", "language", "sms_consent", "created_at")
    list_filter = ("language", "sms_consent", "marketing_consent")
    search_fields = ("phone", "name", "email")
    readonly_fields = ("created_at", "updated_at", "consent_updated_at", "erased_at")

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
        (_("Reschedule (through the booking service)"), {"fields": ("move_to", "move_staff")}),
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

    @admin.action(description=_("Confirm"))
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

    @admin.action(description=_("Not shown up"))
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

    @admin.action(description=_("Cancel …"))
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
