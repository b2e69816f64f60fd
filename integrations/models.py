import secrets

from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField

from bookings import models as booking_models
from common.scoping import TenantOwnedModel
from staff.models import Service, Staff, TimeBlock
from tenants.models import Company


class WebhookProvider(models.TextChoices):
    RETELL = "retell", _("Retell AI")
    CALCOM = "calcom", _("Cal.com")
    STRIPE = "stripe", _("Stripe")
    TWILIO = "twilio", _("Twilio")


class WebhookEvent(models.Model):
    """One webhook delivery we applied, keyed by the provider's own id for it.

    The row is written in the same transaction as the delivery's effect
    (`integrations.webhooks.first_delivery`), so a replayed delivery finds it and changes
    nothing, and a delivery whose effect failed leaves no row and is applied when it comes again.
    """

    provider = models.CharField(
        max_length=20, choices=WebhookProvider.choices, verbose_name=_("provider")
    )
    event_id = models.CharField(
        max_length=255,
        help_text=_("The provider's id for this delivery"),
        verbose_name=_("event ID"),
    )
    event_type = models.CharField(max_length=100, blank=True, verbose_name=_("event type"))
    tenant = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_events",
        verbose_name=_("company"),
    )
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="webhook_event_once_per_provider"
            )
        ]
        indexes = [models.Index(fields=["tenant", "received_at"], name="webhook_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_type} {self.event_id}"


# The SMS records and templates belong to bookings (`bookings.notifications`); these proxies
# keep their admin pages where operators have them, with the same URLs and permissions.


class SmsTemplate(booking_models.SmsTemplate):
    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        proxy = True


class SmsMessage(booking_models.SmsMessage):
    class Meta:
        verbose_name = _("SMS")
        verbose_name_plural = _("SMS")
        proxy = True


class ChargeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    NOT_CONFIGURED = "not_configured", _("Not sent: Stripe not configured")


class StripeCharge(TenantOwnedModel):
    """A usage-based charge: one Stripe invoice item on the tenant's next invoice.

    The tenant's `idempotency_key` is unique here and, prefixed with the tenant id, is the
    Idempotency-Key sent to Stripe, so a retried charge is billed once on both sides."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="stripe_charges", verbose_name=_("company")
    )
    idempotency_key = models.CharField(max_length=200, verbose_name=_("idempotency key"))
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    amount_cents = models.PositiveIntegerField(verbose_name=_("amount (cents)"))
    currency = models.CharField(max_length=3, default="eur", verbose_name=_("currency"))
    description = models.CharField(max_length=255, verbose_name=_("description"))
    status = models.CharField(
        max_length=20,
        choices=ChargeStatus.choices,
        default=ChargeStatus.PENDING,
        verbose_name=_("status"),
    )
    stripe_invoice_item_id = models.CharField(
        max_length=64, blank=True, verbose_name=_("Stripe invoice item ID")
    )
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("Stripe charge")
        verbose_name_plural = _("Stripe charges")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="stripe_charge_key_once_per_tenant"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ChargeStatus.values), name="stripe_charge_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.amount_cents / 100:.2f} {self.currency} ({self.status})"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class CalcomAccount(TenantOwnedModel):
    """A tenant's Cal.com credentials. Without an account (or with an empty key) the global
    CALCOM_API_KEY applies; with neither, Cal.com is not configured for the tenant and its
    bookings stay local (`sync_status: not_required`)."""

    tenant = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="calcom_account", verbose_name=_("company")
    )
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS); the column holds a Fernet token.
    api_key = EncryptedCharField(
        max_length=255,
        blank=True,
        help_text=_("cal_live_…; empty: the global CALCOM_API_KEY."),
        verbose_name=_("API key"),
    )
    webhook_secret = EncryptedCharField(
        max_length=255,
        default=new_webhook_secret,
        help_text=_("Signs this tenant's Cal.com webhooks; enter it in Cal.com with the URL."),
        verbose_name=_("webhook secret"),
    )
    # A CharField with a URL validator: the form field of URLField guesses a scheme.
    api_url = models.CharField(
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Empty: CALCOM_API_URL (https://api.cal.com; EU accounts differ)."),
        verbose_name=_("API URL"),
    )
    is_active = models.BooleanField(
        default=True,
        help_text=_("Off: this tenant's bookings are not synced to Cal.com."),
        verbose_name=_("active"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("Cal.com account")
        verbose_name_plural = _("Cal.com accounts")

    def __str__(self) -> str:
        return f"Cal.com · {self.tenant}"


class CalcomEventType(TenantOwnedModel):
    """Which Cal.com event type a service is booked as. Bookings made directly in Cal.com for
    that event type block `staff` (or the staff member with the organizer's e-mail)."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    service = models.OneToOneField(
        Service,
        on_delete=models.CASCADE,
        related_name="calcom_event_type",
        verbose_name=_("service"),
    )
    # Unique across tenants: a webhook finds its tenant from the event type.
    event_type_id = models.PositiveIntegerField(
        unique=True, verbose_name=_("Cal.com event type ID")
    )
    staff = models.ForeignKey(
        Staff,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Whose time a booking made directly in Cal.com blocks."),
        verbose_name=_("staff"),
    )

    class Meta:
        verbose_name = _("Cal.com event type")
        verbose_name_plural = _("Cal.com event types")

    def __str__(self) -> str:
        return f"{self.service} → Cal.com event type {self.event_type_id}"


class CalcomBusyBlock(TenantOwnedModel):
    """A booking made directly in Cal.com, mirrored as a time block so our slots honour it."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    booking_uid = models.CharField(max_length=100, unique=True, verbose_name=_("booking UID"))
    time_block = models.OneToOneField(
        TimeBlock, on_delete=models.CASCADE, related_name="+", verbose_name=_("absence")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("calendar busy block")
        verbose_name_plural = _("calendar busy blocks")

    def __str__(self) -> str:
        return f"Cal.com {self.booking_uid}"
