"""The inbox "Probleme" of one tenant: dead-lettered outbox messages, failed SMS, appointments
whose calendar copy failed and calls that ended without the booking they were for, each with
its way out (deliver again, or a link to the appointment or call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from bookings.enums import SmsStatus, SyncStatus
from bookings.models import Appointment, SmsMessage
from bookings.services import CALENDAR_TOPIC
from mcp_core import outbox
from mcp_core.models import OutboxMessage, OutboxStatus
from routing.enums import CallOutcome
from routing.models import CallLog
from tenants.models import Company

RECENT_DAYS = 7
LIMIT = 100  # rows per section; the counts on "Heute" say how many there are in all
UNANSWERED_OUTCOMES = (CallOutcome.NO_BOOKING, CallOutcome.FAILED)


@dataclass(frozen=True)
class Problems:
    dead_messages: list[OutboxMessage]
    failed_sms: list[SmsMessage]
    failed_syncs: list[Appointment]
    calls_without_booking: list[CallLog]


def problems_list(*, tenant: Company, now: dt.datetime | None = None) -> Problems:
    recent = (now or timezone.now()) - dt.timedelta(days=RECENT_DAYS)
    return Problems(
        dead_messages=list(
            OutboxMessage.objects.for_tenant(tenant)
            .filter(status=OutboxStatus.DEAD)
            .order_by("-updated_at")[:LIMIT]
        ),
        failed_sms=list(
            SmsMessage.objects.for_tenant(tenant)
            .filter(status__in=(SmsStatus.FAILED, SmsStatus.UNDELIVERED), created_at__gte=recent)
            .select_related("appointment__branch")
            .order_by("-created_at")[:LIMIT]
        ),
        failed_syncs=list(
            Appointment.objects.for_tenant(tenant)
            .filter(sync_status=SyncStatus.FAILED)
            .select_related("branch", "customer", "service")
            .order_by("start_time")[:LIMIT]
        ),
        calls_without_booking=list(
            CallLog.objects.for_tenant(tenant)
            .filter(
                outcome__in=UNANSWERED_OUTCOMES, appointment__isnull=True, started_at__gte=recent
            )
            .select_related("customer", "branch")
            .order_by("-started_at")[:LIMIT]
        ),
    )


def messages_retry(*, tenant: Company, actor: str, message_ids: list[int]) -> list[int]:
    """Deliver the tenant's chosen messages again (`mcp_core.outbox.retry`, audited as
    `actor`); another tenant's ids are not found. Returns the ids put back in the queue."""
    chosen = OutboxMessage.objects.for_tenant(tenant).filter(pk__in=message_ids)
    return outbox.retry(chosen, actor=actor)


def sync_retry(*, tenant: Company, actor: str, appointment_id: int) -> list[int]:
    """Deliver the appointment's calendar messages again. Returns the ids put back."""
    chosen = OutboxMessage.objects.for_tenant(tenant).filter(
        topic=CALENDAR_TOPIC, payload__appointment_id=appointment_id
    )
    return outbox.retry(chosen, actor=actor)
