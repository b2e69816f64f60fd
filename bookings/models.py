from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.enums import (
    ACTIVE_STATUSES,
    AppointmentSource,
    AppointmentStatus,
    SmsKind,
    SmsStatus,
    SyncStatus,
)
from common.phone import validate_e164
from common.scoping import TenantOwnedModel
from staff.models import Service, Staff
from tenants.models import Branch, Company


class Customer(TenantOwnedModel):
    """A caller or client of the tenant, identified by phone number (E.164, unique per tenant)."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="customers", verbose_name=_("company")
    )
    phone = models.CharField(max_length=20, validators=[validate_e164], verbose_name=_("phone"))
    name = models.CharField(max_length=200, blank=True, verbose_name=_("name"))
    email = models.EmailField(blank=True, verbose_name=_("e-mail"))
    language = models.CharField(max_length=8, default="de", verbose_name=_("language"))
    sms_consent = models.BooleanField(default=False, verbose_name=_("SMS consent"))
    marketing_consent = models.BooleanField(default=False, verbose_name=_("marketing consent"))
    consent_updated_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("consent changed at")
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set when personal data was anonymised (GDPR)."),
        verbose_name=_("erased at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "phone"], name="customer_phone_unique_per_tenant"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "name"], name="customer_name_idx")]

    def __str__(self) -> str:
        return f"{self.name or 'Unbekannt'} ({self.phone})"


class Appointment(TenantOwnedModel):
    """A booked service with one staff member at one branch.

    `occupied_start`/`occupied_end` are the start and end widened by the service's buffers: the
    time the staff member is really taken. On PostgreSQL an exclusion constraint over that range
    makes two active appointments of one staff member overlapping impossible.
    """

    # Indexes (see Meta): the composites lead with tenant, so the FK needs none of its own; no
    # text pattern (`_like`) indexes, lookups are exact. Every index is written on each booking.
    tenant = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        related_name="appointments",
        db_index=False,
        verbose_name=_("company"),
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("branch")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("service")
    )
    staff = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("staff member")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("customer")
    )
    start_time = models.DateTimeField(verbose_name=_("start"))
    end_time = models.DateTimeField(verbose_name=_("end"))
    occupied_start = models.DateTimeField(editable=False, verbose_name=_("occupied from"))
    occupied_end = models.DateTimeField(editable=False, verbose_name=_("occupied until"))
    status = models.CharField(
        max_length=20,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.CONFIRMED,
        verbose_name=_("status"),
    )
    confirmation_number = models.CharField(max_length=12, verbose_name=_("confirmation number"))
    source = models.CharField(
        max_length=10,
        choices=AppointmentSource.choices,
        default=AppointmentSource.API,
        verbose_name=_("booked through"),
    )
    call_id = models.CharField(max_length=100, blank=True, verbose_name=_("call id"))
    # NULL, not "", for "no key": the partial unique constraint must ignore keyless bookings.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, verbose_name=_("idempotency key")
    )
    request_fingerprint = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("Hash of the createBooking arguments, to refuse a key reused with others."),
        verbose_name=_("request fingerprint"),
    )
    sync_status = models.CharField(
        max_length=20,
        choices=SyncStatus.choices,
        default=SyncStatus.NOT_REQUIRED,
        verbose_name=_("calendar sync"),
    )
    external_calendar_id = models.CharField(
        max_length=100, blank=True, verbose_name=_("calendar event id")
    )
    price = models.DecimalField(
        max_digits=8, decimal_places=2, help_text=_("EUR, gross"), verbose_name=_("price")
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    cancellation_reason = models.CharField(
        max_length=255, blank=True, verbose_name=_("cancellation reason")
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["start_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["confirmation_number"], name="appointment_confirmation_number_unique"
            ),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="appointment_idempotency_key_unique_per_tenant",
            ),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(occupied_start__lte=F("start_time"), occupied_end__gte=F("end_time")),
                name="appointment_occupied_covers_booking",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values), name="appointment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="appointment_price_not_negative"
            ),
        ]
        indexes = [
            # End first: "overlaps [begin, end)" reads from `begin` on, so the staff member's
            # past appointments, however many (still confirmed when nobody closed them), are
            # never read (bench/history.py).
            models.Index(
                fields=["staff", "occupied_end", "occupied_start"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="appointment_active_end_idx",
            ),
            models.Index(
                fields=["tenant", "branch", "start_time"], name="appointment_branch_day_idx"
            ),
            models.Index(fields=["tenant", "status", "start_time"], name="appointment_status_idx"),
            # Each staff member's completed appointments (the automatic choice's tie-breaker),
            # counted from this index alone; a booking (confirmed) never writes to it.
            models.Index(
                fields=["tenant", "staff"],
                condition=Q(status=AppointmentStatus.COMPLETED),
                name="appointment_completed_idx",
            ),
            # The monthly quota counts the tenant's appointments created since the 1st: without
            # this it would read every appointment the tenant ever had, on every booking.
            models.Index(fields=["tenant", "created_at"], name="appointment_created_idx"),
            # The console counts a branch's failed calendar syncs on every view of "Heute":
            # without this it would read every appointment the branch ever had.
            models.Index(
                fields=["tenant", "branch", "start_time"],
                condition=Q(sync_status="failed"),
                name="appointment_sync_failed_idx",
            ),
            models.Index(fields=["call_id"], name="appointment_call_idx"),
            models.Index(fields=["external_calendar_id"], name="appointment_calendar_idx"),
            models.Index(
                fields=["tenant", "customer", "start_time"], name="appointment_customer_idx"
            ),
        ]

    def __str__(self) -> str:
        # Named in the branch's wall-clock time, the time the customer's SMS states.
        local = timezone.localtime(self.start_time, ZoneInfo(self.branch.time_zone))
        return f"{self.confirmation_number} · {local:%d.%m.%Y %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


# ------------------------------------------------------------------------ customer messages
# What we told a customer and in which words: state of `bookings.notifications`. Both tables
# were created by the integrations app and keep their names (moved in state only, 0005).


class SmsTemplate(TenantOwnedModel):
    """A tenant's own wording for one kind of SMS; kinds without a row use the default texts in
    `templates/sms/`. The body is checked against the kind's placeholders on save
    (`bookings.notifications.texts.sms_template_set`)."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="sms_templates", verbose_name=_("company")
    )
    kind = models.CharField(max_length=20, choices=SmsKind.choices, verbose_name=_("kind"))
    body = models.TextField(verbose_name=_("body"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        db_table = "integrations_smstemplate"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind"], name="sms_template_once_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=[k for k in SmsKind.values if k != SmsKind.CUSTOM]),
                name="sms_template_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class SmsMessage(TenantOwnedModel):
    """One SMS we sent or tried to send, and what the provider last told us about it.

    A reminder row doubles as the appointment's once-only marker: the partial unique constraint
    lets exactly one worker claim an appointment's reminder, however often beat runs.
    """

    # sms_tenant_created_idx leads with the tenant; no index of the FK's own.
    tenant = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        related_name="sms_messages",
        db_index=False,
        verbose_name=_("company"),
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sms_messages",
        verbose_name=_("appointment"),
    )
    kind = models.CharField(max_length=20, choices=SmsKind.choices, verbose_name=_("kind"))
    to = models.CharField(max_length=20, verbose_name=_("to"))
    body = models.TextField(verbose_name=_("text"))
    provider = models.CharField(
        max_length=20,
        help_text=_("The SMS backend, e.g. twilio, console"),
        verbose_name=_("provider"),
    )
    # NULL, not "", while there is no id: the unique constraint must ignore unsent messages.
    provider_sid = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, verbose_name=_("provider message ID")
    )
    status = models.CharField(
        max_length=20,
        choices=SmsStatus.choices,
        default=SmsStatus.CLAIMED,
        verbose_name=_("status"),
    )
    error_code = models.CharField(max_length=20, blank=True, verbose_name=_("error code"))
    error_message = models.CharField(max_length=500, blank=True, verbose_name=_("error message"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS")
        db_table = "integrations_smsmessage"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(kind="reminder"),
                name="sms_reminder_once_per_appointment",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_sid"],
                condition=Q(provider_sid__isnull=False),
                name="sms_provider_sid_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SmsStatus.values), name="sms_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "created_at"], name="sms_tenant_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to} ({self.status})"
