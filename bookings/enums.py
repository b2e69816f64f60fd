from django.db import models


class AppointmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"


# Appointments in these states hold their staff member's time; the database refuses overlaps.
ACTIVE_STATUSES = (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED)


class AppointmentSource(models.TextChoices):
    PHONE = "phone", "Phone (Retell)"
    API = "api", "REST API"
    MCP = "mcp", "MCP"
    ADMIN = "admin", "Admin"


class SyncStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"


class SmsKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    REMINDER = "reminder", "Reminder"
    CANCELLATION = "cancellation", "Cancellation"
    RESCHEDULE = "reschedule", "Reschedule"
    CUSTOM = "custom", "Free text"


class SmsStatus(models.TextChoices):
    """Our own states (`claimed`, `not_configured`) plus Twilio's message statuses."""

    CLAIMED = "claimed", "Claimed, not yet handed over"
    NOT_CONFIGURED = "not_configured", "Not sent: no SMS provider configured"
    ACCEPTED = "accepted", "Accepted"
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    READ = "read", "Read"
    CANCELED = "canceled", "Canceled"
