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
