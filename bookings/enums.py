from django.db import models
from django.utils.translation import gettext_lazy as _


class AppointmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("No-show")


# Appointments in these states hold their staff member's time; the database refuses overlaps.
ACTIVE_STATUSES = (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED)

# A staff member's experience counts completed appointments up to this many: in the staff
# score and in the automatic pick's tie-break, whose cost then stays flat however long the
# history grows (docs/benchmarks.md, bench/history.py).
EXPERIENCE_CAP = 50


class AppointmentSource(models.TextChoices):
    PHONE = "phone", _("Phone (Retell)")
    API = "api", _("REST API")
    MCP = "mcp", _("MCP")
    ADMIN = "admin", _("Admin")


class SyncStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", _("Not required")
    PENDING = "pending", _("Pending")
    SYNCED = "synced", _("Synced")
    FAILED = "failed", _("Failed")


class SmsKind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Booking confirmation")
    REMINDER = "reminder", _("Reminder")
    CANCELLATION = "cancellation", _("Cancellation")
    RESCHEDULE = "reschedule", _("Reschedule")
    CUSTOM = "custom", _("Free text")


class SmsStatus(models.TextChoices):
    """Our own states (`claimed`, `not_configured`) plus Twilio's message statuses."""

    CLAIMED = "claimed", _("Claimed, not yet handed over")
    NOT_CONFIGURED = "not_configured", _("Not sent: no SMS provider configured")
    ACCEPTED = "accepted", _("Accepted")
    SCHEDULED = "scheduled", _("Scheduled")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")
    READ = "read", _("Read")
    CANCELED = "canceled", _("Canceled")
