from django.core.validators import URLValidator
from django.db import models

from staff.models import Service, Staff, TimeBlock
from tenants.models import Company
from tenants.scoping import TenantOwnedModel


class WebhookProvider(models.TextChoices):
    RETELL = "retell", "Retell AI"
    CALCOM = "calcom", "Cal.com"
    STRIPE = "stripe", "Stripe"
    TWILIO = "twilio", "Twilio"


class WebhookEvent(models.Model):
    """One webhook delivery we applied, keyed by the provider's own id for it.

    The row is written in the same transaction as the delivery's effect
    (`integrations.webhooks.first_delivery`), so a replayed delivery finds it and changes
    nothing, and a delivery whose effect failed leaves no row and is applied when it comes again.
    """

    provider = models.CharField(max_length=20, choices=WebhookProvider.choices)
    event_id = models.CharField(max_length=255, help_text="The provider's id for this delivery")
    event_type = models.CharField(max_length=100, blank=True)
    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_events"
    )
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="webhook_event_once_per_provider"
            )
        ]
        indexes = [models.Index(fields=["tenant", "received_at"], name="webhook_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_type} {self.event_id}"


class CalcomAccount(TenantOwnedModel):
    """A tenant's Cal.com credentials. Without an account (or with an empty key) the global
    CALCOM_API_KEY applies; with neither, Cal.com is not configured for the tenant and its
    bookings stay local (`sync_status: not_required`)."""

    tenant = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="calcom_account")
    api_key = models.CharField(
        max_length=255, blank=True, help_text="cal_live_…; empty: the global CALCOM_API_KEY."
    )
    # A CharField with a URL validator: the form field of URLField guesses a scheme.
    api_url = models.CharField(
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Empty: CALCOM_API_URL (https://api.cal.com; EU accounts differ).",
    )
    is_active = models.BooleanField(
        default=True, help_text="Off: this tenant's bookings are not synced to Cal.com."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Cal.com account"

    def __str__(self) -> str:
        return f"Cal.com · {self.tenant}"


class CalcomEventType(TenantOwnedModel):
    """Which Cal.com event type a service is booked as. Bookings made directly in Cal.com for
    that event type block `staff` (or the staff member with the organizer's e-mail)."""

    tenant = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, related_name="calcom_event_type"
    )
    # Unique across tenants: a webhook finds its tenant from the event type.
    event_type_id = models.PositiveIntegerField(unique=True)
    staff = models.ForeignKey(
        Staff,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose time a booking made directly in Cal.com blocks.",
    )

    class Meta:
        verbose_name = "Cal.com event type"

    def __str__(self) -> str:
        return f"{self.service} → Cal.com event type {self.event_type_id}"


class CalcomBusyBlock(TenantOwnedModel):
    """A booking made directly in Cal.com, mirrored as a time block so our slots honour it."""

    tenant = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    booking_uid = models.CharField(max_length=100, unique=True)
    time_block = models.OneToOneField(TimeBlock, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Cal.com {self.booking_uid}"
