"""Gauges read from the database when Prometheus scrapes: work waiting in the outbox and sagas
left behind by a dead process. Counted at scrape time, so every web process answers the same
(no multiprocess aggregation needed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mcp_core.models import OutboxMessage, OutboxStatus, SagaRun, SagaStatus

_ACTIVE_SAGAS = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)


class BacklogCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        overdue_after = now - dt.timedelta(seconds=settings.MCP_OUTBOX_SWEEP_GRACE)
        stale_after = now - dt.timedelta(seconds=settings.MCP_SAGA_STALE_AFTER)
        try:
            # all_tenants: an operations gauge over every tenant, a count without rows.
            messages = OutboxMessage.objects.all_tenants()
            pending = messages.filter(status=OutboxStatus.PENDING)
            backlog = pending.count()
            overdue = pending.filter(next_attempt_at__lt=overdue_after).count()
            dead = messages.filter(status=OutboxStatus.DEAD).count()
            # all_tenants: the same count for sagas nobody has heard from.
            stale = (
                SagaRun.objects.all_tenants()
                .filter(status__in=_ACTIVE_SAGAS, updated_at__lt=stale_after)
                .count()
            )
        except DatabaseError:
            return  # the database is down: health says so; no made-up zeros here
        yield _gauge("mcp_outbox_pending", "Outbox messages not yet delivered.", backlog)
        yield _gauge(
            "mcp_outbox_overdue",
            "Pending outbox messages whose next attempt is past due by more than the sweep grace.",
            overdue,
        )
        yield _gauge("mcp_outbox_dead", "Dead-lettered outbox messages.", dead)
        yield _gauge(
            "mcp_sagas_stale",
            "Saga runs still running or compensating, silent for MCP_SAGA_STALE_AFTER seconds.",
            stale,
        )


def _gauge(name: str, documentation: str, value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
