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

from common.scoping import TenantOwnedModel


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
