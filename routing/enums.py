from django.db import models
from django.utils.translation import gettext_lazy as _


class CallStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    ONGOING = "ongoing", _("Ongoing")
    ENDED = "ended", _("Ended")
    ERROR = "error", _("Error")


class CallOutcome(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    BOOKED = "booked", _("Booked")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    CANCELLED = "cancelled", _("Cancelled")
    NO_BOOKING = "no_booking", _("No booking")
    TRANSFERRED = "transferred", _("Transferred")
    FAILED = "failed", _("Failed")


class RoutingAction(models.TextChoices):
    ROUTE_TO_BRANCH = "route_to_branch", _("Route to branch")
    OVERFLOW = "overflow", _("Overflow to other branch")
    USE_AGENT = "use_agent", _("Use agent")
    FALLBACK = "fallback", _("Fallback")
