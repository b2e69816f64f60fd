"""Celery tasks of the bookings app: thin, they take ids, load and call a service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from bookings import services
from integrations.calendar import CalendarError
from tenants.models import Company

logger = logging.getLogger(__name__)

CALENDAR_RETRY_BASE_SECONDS = 60  # 1, 2, 4, ... minutes between attempts
TASK_ACTOR = "task:retry_calendar_sync"


@shared_task(bind=True, name="bookings.tasks.retry_calendar_sync", max_retries=None)
def retry_calendar_sync(self: Any, tenant_id: int, appointment_id: int) -> str:
    """Bring an appointment's external calendar copy in line; returns its sync status.

    While the calendar fails it is retried with exponential back-off (1, 2, 4, ... minutes),
    MCP_MAX_RETRIES times; then the sync is marked failed and operations are told. Run eagerly
    (no broker configured) there is no one to retry later: the attempt is made once and the
    appointment stays pending. Safe to run twice."""
    tenant = Company.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return ""
    try:
        return services.booking_calendar_sync(tenant=tenant, appointment_id=appointment_id)
    except CalendarError as exc:
        if self.request.retries >= settings.MCP_MAX_RETRIES:
            services.booking_calendar_sync_gave_up(
                tenant=tenant, actor=TASK_ACTOR, appointment_id=appointment_id, error=str(exc)
            )
            return "failed"
        if self.request.is_eager:
            logger.warning("calendar sync of appointment %s still pending: %s", appointment_id, exc)
            return "pending"
        countdown = CALENDAR_RETRY_BASE_SECONDS * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from exc
