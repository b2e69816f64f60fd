"""The machinery's rows: saga runs, outbox messages and the audit log.

A saga run's every state change is committed on its own (one row written), so after a crash
the run tells the recovery task exactly which steps completed and which compensations are
still owed (`mcp_core.saga`).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField

from common.scoping import TenantOwnedModel
from mcp_core.permissions import Role


class SagaStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    COMPENSATING = "compensating", _("Compensating")
    COMPENSATED = "compensated", _("Compensated")
    # A compensation itself failed: some effects may remain, an operator has to look.
    FAILED = "failed", _("Failed")


class StepStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    COMPENSATING = "compensating", _("Compensating")
    COMPENSATED = "compensated", _("Compensated")
    FAILED = "failed", _("Failed")


class SagaRun(TenantOwnedModel):
    """One execution of a saga definition registered under `name`."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID")
    )
    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="saga_runs",
        db_index=False,
        verbose_name=_("company"),
    )
    name = models.CharField(max_length=100, verbose_name=_("name"))
    status = models.CharField(
        max_length=20,
        choices=SagaStatus.choices,
        default=SagaStatus.RUNNING,
        verbose_name=_("status"),
    )
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('{"data": inputs, "results": {step: result}}'),
        verbose_name=_("context"),
    )
    # NULL, not "", for "no key": runs without one must stay out of the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, verbose_name=_("idempotency key")
    )
    # One entry per step, in order: {name, status, result, error, started_at, finished_at}
    # (times ISO 8601; `result` set exactly when the step's action returned). In the run's own
    # row, so every state change of a run is one single-row write.
    steps = models.JSONField(default=list, blank=True, verbose_name=_("steps"))
    current_step = models.CharField(max_length=100, blank=True, verbose_name=_("current step"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveIntegerField(
        default=1,
        help_text=_("Raised on every claim by recovery; a stale owner's writes then miss."),
        verbose_name=_("attempts"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(
        default=timezone.now, help_text=_("Heartbeat."), verbose_name=_("updated")
    )

    class Meta:
        verbose_name = _("saga run")
        verbose_name_plural = _("saga runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="sagarun_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SagaStatus.values), name="sagarun_status_valid"
            ),
        ]
        # The stale-run scan filters on status and orders by heartbeat.
        indexes = [models.Index(fields=["status", "updated_at"], name="sagarun_stale_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.pk} ({self.status})"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    # Retries ran out (or the handler said retrying cannot help): operations were told.
    DEAD = "dead", _("Dead-lettered")


class OutboxMessage(TenantOwnedModel):
    """One side effect (calendar sync, customer notification, ...) written in the same
    transaction as the change that caused it and delivered afterwards by `mcp_core.outbox`.

    `next_attempt_at` is both the schedule and the lease: a claim moves it forward, so one
    message is attempted by one process at a time, and a claim left by a dead worker expires.
    """

    # outbox_tenant_status_idx leads with the tenant; no index of the FK's own.
    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="outbox_messages",
        db_index=False,
        verbose_name=_("company"),
    )
    topic = models.CharField(max_length=100, verbose_name=_("topic"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    dedupe_key = models.CharField(
        max_length=200, verbose_name=_("deduplication key")
    )  # unique: see Meta (no pattern index)
    status = models.CharField(
        max_length=20,
        choices=OutboxStatus.choices,
        default=OutboxStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    result = models.JSONField(
        null=True, blank=True, help_text=_("What the handler returned."), verbose_name=_("result")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_key_unique"),
            models.CheckConstraint(
                condition=Q(status__in=OutboxStatus.values), name="outbox_status_valid"
            ),
        ]
        indexes = [
            # The sweep: pending messages whose time has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_due_idx",
            ),
            models.Index(fields=["tenant", "status", "topic"], name="outbox_tenant_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk} ({self.status})"


class AuditLog(TenantOwnedModel):
    """One row per state change made by a service: who did what to which object."""

    # audit_object_idx leads with the tenant; no index of the FK's own.
    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="audit_log",
        db_index=False,
        verbose_name=_("company"),
    )
    actor = models.CharField(
        max_length=200,
        help_text=_("e.g. 'api_key:ab12cd34', 'admin:anna'"),
        verbose_name=_("actor"),
    )
    action = models.CharField(max_length=100, verbose_name=_("action"))
    object_type = models.CharField(max_length=50, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, verbose_name=_("object ID"))
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        db_table = "tenants_auditlog"  # the table predates the model's move to mcp_core
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "object_type", "object_id"], name="audit_object_idx")
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class UpstreamTransport(models.TextChoices):
    STDIO = "stdio", _("stdio (a command)")
    HTTP = "http", _("Streamable HTTP (a URL)")


class UpstreamStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Not checked yet")
    HEALTHY = "healthy", _("Healthy")
    # Failed MCP_UPSTREAM_FAILURE_THRESHOLD checks in a row; its tools are hidden until a
    # check succeeds again.
    UNREACHABLE = "unreachable", _("Unreachable")


class Upstream(models.Model):
    """An external MCP server whose tools `/mcp` offers as `<slug>_<tool>`
    (mcp_core.federation). A row without a tenant is global (a superuser's): every tenant sees
    it; a tenant's own row is seen by that tenant alone and may not reuse a global slug.

    Not a TenantOwnedModel: global rows have no tenant. Reads go through
    `mcp_core.federation.registry`, which always names the tenant (or says it means all).
    """

    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="mcp_upstreams",
        null=True,
        blank=True,
        help_text=_("Empty: a global upstream, offered to every tenant."),
        verbose_name=_("company"),
    )
    slug = models.CharField(
        max_length=32, help_text=_("Tool prefix: <slug>_<tool>."), verbose_name=_("slug")
    )
    transport = models.CharField(
        max_length=10, choices=UpstreamTransport.choices, verbose_name=_("transport")
    )
    command = models.JSONField(
        default=list,
        blank=True,
        help_text=_('stdio: the command and its arguments, ["node", …].'),
        verbose_name=_("command"),
    )
    url = models.CharField(
        max_length=500, blank=True, help_text=_("Streamable HTTP endpoint."), verbose_name=_("URL")
    )
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS): a JSON object, the stdio process's extra
    # environment or the HTTP request headers (tokens of the upstream, never our API key).
    credentials = EncryptedTextField(blank=True, default="{}", verbose_name=_("credentials"))
    enabled_tools = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Upstream tool names offered; empty: all of them."),
        verbose_name=_("enabled tools"),
    )
    role_required = models.CharField(
        max_length=20, choices=Role.choices, default=Role.READONLY, verbose_name=_("role required")
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    status = models.CharField(
        max_length=20,
        choices=UpstreamStatus.choices,
        default=UpstreamStatus.UNKNOWN,
        verbose_name=_("status"),
    )
    consecutive_failures = models.PositiveIntegerField(
        default=0, verbose_name=_("consecutive failures")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    last_checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last checked"))
    # The upstream's tools as its last tools/list answered them (name, description, schemas).
    tools = models.JSONField(default=list, blank=True, verbose_name=_("tools"))
    tools_refreshed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("tools refreshed")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("upstream")
        verbose_name_plural = _("upstreams")
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "slug"],
                condition=Q(tenant__isnull=False),
                name="upstream_tenant_slug_unique",
            ),
            models.UniqueConstraint(
                fields=["slug"],
                condition=Q(tenant__isnull=True),
                name="upstream_global_slug_unique",
            ),
            models.CheckConstraint(
                condition=Q(transport__in=UpstreamTransport.values),
                name="upstream_transport_valid",
            ),
        ]

    def __str__(self) -> str:
        scope = "global" if self.tenant_id is None else f"tenant {self.tenant_id}"
        return f"{self.slug} ({self.transport}, {scope})"


class DomainEvent(TenantOwnedModel):
    """One state change, as subscribers see it: written in the change's transaction
    (`mcp_core.events.emit`), so its id is the cursor a reconnecting client resumes from."""

    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="domain_events",
        db_index=False,
        verbose_name=_("company"),
    )
    event = models.CharField(max_length=60, verbose_name=_("event"))
    version = models.PositiveSmallIntegerField(default=1, verbose_name=_("version"))
    # The live channels the event goes to (`branch.<id>`, `customer.<id>`, `call.<id>`).
    branch_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("branch ID"))
    customer_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("customer ID"))
    call_id = models.CharField(max_length=100, blank=True, verbose_name=_("call ID"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    occurred_at = models.DateTimeField(default=timezone.now, verbose_name=_("occurred"))

    class Meta:
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "branch_id", "id"], name="event_branch_idx"),
            models.Index(fields=["tenant", "customer_id", "id"], name="event_customer_idx"),
            models.Index(fields=["tenant", "id"], name="event_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class WebhookEndpoint(TenantOwnedModel):
    """A tenant's HTTPS receiver of domain events; each delivery is signed with `secret`
    (shown once, when the endpoint is created) and leaves through the outbox."""

    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("company"),
    )
    url = models.URLField(max_length=500, verbose_name=_("URL"))
    # Event names, or ["*"] for every event.
    events = models.JSONField(default=list, verbose_name=_("events"))
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS); the signing key, shown once at creation.
    secret = EncryptedCharField(max_length=80, verbose_name=_("secret"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class FlagState(models.TextChoices):
    OFF = "off", _("Off")
    ON = "on", _("On for every tenant")
    TARGETED = "targeted", _("On for the listed tenants, plans and percentage")


class FeatureFlag(models.Model):
    """A feature flag, global (not tenant-owned): off, on, or on for listed tenants, plans and a
    stable percentage of tenants (`mcp_core.flags`). `killed` turns it off for everyone."""

    name = models.SlugField(max_length=100, unique=True, verbose_name=_("name"))
    description = models.CharField(max_length=255, blank=True, verbose_name=_("description"))
    state = models.CharField(
        max_length=10, choices=FlagState.choices, default=FlagState.OFF, verbose_name=_("state")
    )
    tenants = models.ManyToManyField(
        "tenants.Company",
        blank=True,
        related_name="+",
        help_text=_("On for these tenants."),
        verbose_name=_("tenants"),
    )
    plans = models.JSONField(
        default=list,
        blank=True,
        help_text=_('On for these plans, e.g. ["enterprise"].'),
        verbose_name=_("plans"),
    )
    percentage = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("On for this share of tenants (0–100); raising it only adds tenants."),
        verbose_name=_("percentage"),
    )
    killed = models.BooleanField(
        default=False,
        help_text=_("Kill switch: off for every tenant, whatever else is set."),
        verbose_name=_("killed"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("feature flag")
        verbose_name_plural = _("feature flags")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=FlagState.values), name="featureflag_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(percentage__lte=100), name="featureflag_percentage_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FeatureFlagChange(models.Model):
    """The audit trail of a flag (flags span tenants, so not the tenant-owned AuditLog)."""

    flag = models.ForeignKey(
        FeatureFlag, on_delete=models.CASCADE, related_name="changes", verbose_name=_("flag")
    )
    actor = models.CharField(max_length=200, verbose_name=_("actor"))
    action = models.CharField(max_length=50, verbose_name=_("action"))
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("feature flag change")
        verbose_name_plural = _("feature flag changes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.flag_id}"
