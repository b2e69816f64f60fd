from django.db import models

from tenants.models import Company


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
