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

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "tenants.Company", on_delete=models.CASCADE, related_name="saga_runs", db_index=False
    )
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=SagaStatus.choices, default=SagaStatus.RUNNING)
    context = models.JSONField(
        default=dict, blank=True, help_text='{"data": inputs, "results": {step: result}}'
    )
    # NULL, not "", for "no key": runs without one must stay out of the unique constraint.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # One entry per step, in order: {name, status, result, error, started_at, finished_at}
    # (times ISO 8601; `result` set exactly when the step's action returned). In the run's own
    # row, so every state change of a run is one single-row write.
    steps = models.JSONField(default=list, blank=True)
    current_step = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(
        default=1, help_text="Raised on every claim by recovery; a stale owner's writes then miss."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now, help_text="Heartbeat.")

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
        "tenants.Company", on_delete=models.CASCADE, related_name="outbox_messages", db_index=False
    )
    topic = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200)  # unique: see Meta (no pattern index)
    status = models.CharField(
        max_length=20, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, help_text="What the handler returned.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

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
        "tenants.Company", on_delete=models.CASCADE, related_name="audit_log", db_index=False
    )
    actor = models.CharField(max_length=200, help_text="e.g. 'api_key:ab12cd34', 'admin:anna'")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

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
    STDIO = "stdio", "stdio (a command)"
    HTTP = "http", "Streamable HTTP (a URL)"


class UpstreamStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    HEALTHY = "healthy", "Healthy"
    # Failed MCP_UPSTREAM_FAILURE_THRESHOLD checks in a row; its tools are hidden until a
    # check succeeds again.
    UNREACHABLE = "unreachable", "Unreachable"


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
        help_text="Empty: a global upstream, offered to every tenant.",
    )
    slug = models.CharField(max_length=32, help_text="Tool prefix: <slug>_<tool>.")
    transport = models.CharField(max_length=10, choices=UpstreamTransport.choices)
    command = models.JSONField(
        default=list, blank=True, help_text='stdio: the command and its arguments, ["node", …].'
    )
    url = models.CharField(max_length=500, blank=True, help_text="Streamable HTTP endpoint.")
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS): a JSON object, the stdio process's extra
    # environment or the HTTP request headers (tokens of the upstream, never our API key).
    credentials = EncryptedTextField(blank=True, default="{}")
    enabled_tools = models.JSONField(
        default=list, blank=True, help_text="Upstream tool names offered; empty: all of them."
    )
    role_required = models.CharField(max_length=20, choices=Role.choices, default=Role.READONLY)
    enabled = models.BooleanField(default=True)
    status = models.CharField(
        max_length=20, choices=UpstreamStatus.choices, default=UpstreamStatus.UNKNOWN
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The upstream's tools as its last tools/list answered them (name, description, schemas).
    tools = models.JSONField(default=list, blank=True)
    tools_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        "tenants.Company", on_delete=models.CASCADE, related_name="domain_events", db_index=False
    )
    event = models.CharField(max_length=60)
    version = models.PositiveSmallIntegerField(default=1)
    # The live channels the event goes to (`branch.<id>`, `customer.<id>`, `call.<id>`).
    branch_id = models.BigIntegerField(null=True, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    call_id = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
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
        "tenants.Company", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    # Event names, or ["*"] for every event.
    events = models.JSONField(default=list)
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS); the signing key, shown once at creation.
    secret = EncryptedCharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


class FlagState(models.TextChoices):
    OFF = "off", "Off"
    ON = "on", "On for every tenant"
    TARGETED = "targeted", "On for the listed tenants, plans and percentage"


class FeatureFlag(models.Model):
    """A feature flag, global (not tenant-owned): off, on, or on for listed tenants, plans and a
    stable percentage of tenants (`mcp_core.flags`). `killed` turns it off for everyone."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=FlagState.choices, default=FlagState.OFF)
    tenants = models.ManyToManyField(
        "tenants.Company", blank=True, related_name="+", help_text="On for these tenants."
    )
    plans = models.JSONField(
        default=list, blank=True, help_text='On for these plans, e.g. ["enterprise"].'
    )
    percentage = models.PositiveSmallIntegerField(
        default=0, help_text="On for this share of tenants (0–100); raising it only adds tenants."
    )
    killed = models.BooleanField(
        default=False, help_text="Kill switch: off for every tenant, whatever else is set."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    flag = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE, related_name="changes")
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=50)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.flag_id}"
