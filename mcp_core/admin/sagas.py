"""Saga runs and the outbox, read-only for superusers: what ran, what was undone, which runs need
an operator; which side effects wait or were dead-lettered, with a "deliver again" action.

Nothing here changes a run: state is written by `mcp_core.saga` alone, and a `failed` run is
resolved by an operator fixing its effects by hand or through the owning app's services.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mcp_core import outbox
from mcp_core.models import (
    OutboxMessage,
    SagaRun,
)
from tenants.admin_scoping import (
    ReadOnlyTenantAdmin,
    SuperuserOnlyMixin,
    actor_for,
)


@admin.register(SagaRun)
class SagaRunAdmin(SuperuserOnlyMixin, ReadOnlyTenantAdmin):
    list_display = ("created_at", "name", "status", "current_step", "attempts", "updated_at")
    list_filter = ("status", "name", ("created_at", admin.DateFieldListFilter))
    search_fields = ("name", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    fields = (
        "id",
        "tenant",
        "name",
        "status",
        "current_step",
        "error",
        "attempts",
        "idempotency_key",
        "step_table",
        "context",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description=_("Steps"))
    def step_table(self, run: SagaRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    index,
                    step.get("name", ""),
                    step.get("status", ""),
                    step.get("error") or "",
                    step.get("started_at") or "",
                    step.get("finished_at") or "",
                )
                for index, step in enumerate(run.steps or [])
            ),
        )
        head = mark_safe(
            "<tr><th>#</th><th>step</th><th>status</th><th>error</th>"
            "<th>started</th><th>finished</th></tr>"
        )
        return format_html("<table>{}{}</table>", head, rows)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Any], search_term: str
    ) -> tuple[models.QuerySet[Any], bool]:
        # Operators arrive with the run_id of an error envelope; ids are matched exactly.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            run_id = uuid.UUID(search_term.strip())
        except ValueError:
            return queryset, may_have_duplicates
        return queryset | self.get_queryset(request).filter(pk=run_id), may_have_duplicates


@admin.register(OutboxMessage)
class OutboxMessageAdmin(SuperuserOnlyMixin, ReadOnlyTenantAdmin):
    """The side effects waiting, delivered and dead-lettered. Filter status "dead" for what
    needs an operator; "Deliver again" puts messages back through `mcp_core.outbox.retry`
    (the same path as integration.retryFailedSync), audited as the operator."""

    list_display = ("created_at", "topic", "status", "attempts", "next_attempt_at", "short_error")
    list_filter = ("status", "topic")
    search_fields = ("dedupe_key", "last_error")
    list_select_related = ("tenant",)
    fields = (
        "tenant",
        "topic",
        "status",
        "payload",
        "attempts",
        "next_attempt_at",
        "last_error",
        "result",
        "dedupe_key",
        "created_at",
        "updated_at",
        "delivered_at",
    )
    readonly_fields = fields
    actions = ("deliver_again",)

    @admin.display(description=_("last error"))
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    @admin.action(description=_("Deliver again (dead or pending messages)"))
    def deliver_again(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        requeued = outbox.retry(queryset, actor=actor_for(request))
        text = ngettext(
            "%(n)d message queued for delivery.",
            "%(n)d messages queued for delivery.",
            len(requeued),
        )
        self.message_user(request, text % {"n": len(requeued)})
