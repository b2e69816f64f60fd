from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bookings.models import Appointment, Customer
from common.phone import validate_e164
from common.scoping import TenantOwnedModel
from routing.enums import CallOutcome, CallStatus, RoutingAction
from tenants.models import Branch, Company


class PhoneNumber(TenantOwnedModel):
    """A dialled number (E.164) that rings a branch and is answered by a Retell agent."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="phone_numbers", verbose_name=_("company")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="phone_numbers", verbose_name=_("branch")
    )
    number = models.CharField(
        max_length=20, unique=True, validators=[validate_e164], verbose_name=_("number")
    )
    retell_agent_id = models.CharField(
        max_length=100, blank=True, verbose_name=_("Retell agent ID")
    )
    language = models.CharField(max_length=8, default="de", verbose_name=_("language"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class RoutingRule(TenantOwnedModel):
    """A tenant's call-routing rule; lower priority numbers are tried first.

    `conditions` holds time windows, languages and similar matchers; validated by the routing
    service when written through the API.
    """

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("company")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    branch = models.ForeignKey(
        Branch,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routing_rules",
        help_text=_("The branch the rule applies to; empty for every branch."),
        verbose_name=_("branch"),
    )
    priority = models.PositiveSmallIntegerField(default=100, verbose_name=_("priority"))
    conditions = models.JSONField(default=dict, blank=True, verbose_name=_("conditions"))
    action = models.CharField(
        max_length=30,
        choices=RoutingAction.choices,
        default=RoutingAction.ROUTE_TO_BRANCH,
        verbose_name=_("action"),
    )
    target_branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target branch"),
    )
    target_agent_id = models.CharField(
        max_length=100, blank=True, verbose_name=_("target agent ID")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["tenant_id", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=RoutingAction.values), name="routing_rule_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: {self.name}"


class CallLog(TenantOwnedModel):
    """One phone call as Retell reported it, with its transcript and what came of it."""

    tenant = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="call_logs", verbose_name=_("company")
    )
    branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_logs",
        verbose_name=_("branch"),
    )
    call_id = models.CharField(
        max_length=100, unique=True, help_text=_("Retell call_id"), verbose_name=_("call ID")
    )
    agent_id = models.CharField(max_length=100, blank=True, verbose_name=_("agent ID"))
    from_number = models.CharField(max_length=20, blank=True, verbose_name=_("caller number"))
    to_number = models.CharField(max_length=20, blank=True, verbose_name=_("called number"))
    direction = models.CharField(max_length=10, default="inbound", verbose_name=_("direction"))
    status = models.CharField(
        max_length=20,
        choices=CallStatus.choices,
        default=CallStatus.REGISTERED,
        verbose_name=_("status"),
    )
    outcome = models.CharField(
        max_length=20,
        choices=CallOutcome.choices,
        default=CallOutcome.UNKNOWN,
        verbose_name=_("outcome"),
    )
    language = models.CharField(max_length=8, blank=True, verbose_name=_("language"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    duration_seconds = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (seconds)")
    )
    transcript = models.TextField(blank=True, verbose_name=_("transcript"))
    analysis = models.JSONField(default=dict, blank=True, verbose_name=_("analysis"))
    disconnection_reason = models.CharField(
        max_length=100, blank=True, verbose_name=_("disconnection reason")
    )
    language = models.CharField(max_length=8, blank=True, verbose_name=_("language"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    duration_seconds = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (seconds)")
    )
    transcript = models.TextField(blank=True, verbose_name=_("transcript"))
    analysis = models.JSONField(default=dict, blank=True, verbose_name=_("analysis"))
    disconnection_reason = models.CharField(
        max_length=100, blank=True, verbose_name=_("disconnection reason")
    )
    transfer_number = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("The number the agent handed the caller to."),
        verbose_name=_("transfer number"),
    )
    transfer_reason = models.CharField(
        max_length=200, blank=True, verbose_name=_("transfer reason")
    )
    transferred_at = models.DateTimeField(null=True, blank=True, verbose_name=_("transferred"))
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_logs",
        verbose_name=_("customer"),
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_logs",
        verbose_name=_("appointment"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-created_at"]
        indexes = [
            models.Index(fields=["tenant", "started_at"], name="calllog_tenant_started_idx"),
            models.Index(fields=["tenant", "branch", "started_at"], name="calllog_branch_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} ({self.from_number} → {self.to_number})"
