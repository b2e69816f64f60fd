from django.db import models


class CallStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    ONGOING = "ongoing", "Ongoing"
    ENDED = "ended", "Ended"
    ERROR = "error", "Error"


class CallOutcome(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    BOOKED = "booked", "Booked"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    NO_BOOKING = "no_booking", "No booking"
    TRANSFERRED = "transferred", "Transferred"
    FAILED = "failed", "Failed"


class RoutingAction(models.TextChoices):
    ROUTE_TO_BRANCH = "route_to_branch", "Route to branch"
    OVERFLOW = "overflow", "Overflow to other branch"
    USE_AGENT = "use_agent", "Use agent"
    FALLBACK = "fallback", "Fallback"
