"""integration.syncCalendarEvent, integration.checkIntegrationHealth, integration.retryFailedSync
(docs/contract.md): the calendar copy of an appointment, the state of the integrations, and
replaying side effects from the outbox (`mcp_core.outbox`) — always for the caller's tenant.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.db.models import Count
from pydantic import Field

from bookings import services as booking_services
from bookings.calendar import CalendarError, get_calendar_backend
from bookings.errors import AppointmentNotFound
from bookings.models import Appointment
from common.errors import ApplicationError, IntegrationError, ValidationFailed
from integrations.calcom.backend import credentials_for
from mcp_core import outbox
from mcp_core.health import check_integrations
from mcp_core.models import OutboxMessage, OutboxStatus
from mcp_core.operations import CallContext, EmptyInput, OperationInput, OperationOutput, operation
from mcp_core.permissions import Permission
from tenants import policy

RETRY_LIMIT = 500  # messages put back per call; call again for more


class SyncCalendarEventInput(OperationInput):
    appointment_id: int = Field(description="The appointment whose calendar copy to sync now.")


class SyncCalendarEventOutput(OperationOutput):
    appointment_id: int
    sync_status: str = Field(description="synced | not_required | pending")
    calendar_backend: str
    external_calendar_id: str


@operation(
    "integration.syncCalendarEvent",
    input=SyncCalendarEventInput,
    output=SyncCalendarEventOutput,
    permission=Permission.MANAGE_INTEGRATIONS,
    idempotent=True,
    open_world=True,
    title="Sync calendar event",
    description=(
        "Bring the appointment's copy in the external calendar (Cal.com) in line now: create, move "
        "or cancel it. A failure is answered, not queued; the outbox keeps retrying pending syncs "
        "meanwhile."
    ),
    examples=({"appointment_id": 42},),
)
def sync_calendar_event(ctx: CallContext, args: SyncCalendarEventInput) -> SyncCalendarEventOutput:
    policy.feature_require(ctx.tenant, "calendar_sync")
    if not Appointment.objects.for_tenant(ctx.tenant).filter(pk=args.appointment_id).exists():
        raise AppointmentNotFound(details={"appointment_id": args.appointment_id})
    try:
        status = booking_services.booking_calendar_sync(
            tenant=ctx.tenant, appointment_id=args.appointment_id
        )
    except CalendarError as exc:
        cause = exc.__cause__
        if isinstance(cause, ApplicationError):
            raise cause from exc
        raise IntegrationError(str(exc), details={"appointment_id": args.appointment_id}) from exc
    external_id = (
        Appointment.objects.for_tenant(ctx.tenant)
        .filter(pk=args.appointment_id)
        .values_list("external_calendar_id", flat=True)
        .first()
    )
    return SyncCalendarEventOutput(
        appointment_id=args.appointment_id,
        sync_status=status or "not_required",
        calendar_backend=get_calendar_backend().name,
        external_calendar_id=external_id or "",
    )


class OutboxCounts(OperationOutput):
    pending: int
    dead: int


class IntegrationHealthOutput(OperationOutput):
    integrations: dict[str, dict[str, Any]] = Field(
        description=(
            "Per integration (calcom, retell, stripe, twilio, sms): status "
            "'configured' | 'not_configured' and its circuit breaker ('closed', 'open', "
            "'half-open'); calcom also names the calendar backend."
        )
    )
    outbox: dict[str, OutboxCounts] = Field(
        description="The tenant's undelivered side effects per topic (pending, dead-lettered)."
    )


@operation(
    "integration.checkIntegrationHealth",
    input=EmptyInput,
    output=IntegrationHealthOutput,
    permission=Permission.VIEW_INTEGRATIONS,
    read_only=True,
    title="Check integration health",
    description=(
        "Which integrations are configured, the state of their circuit breakers and how many side "
        "effects wait in the outbox or were dead-lettered."
    ),
)
def check_integration_health(ctx: CallContext, args: EmptyInput) -> IntegrationHealthOutput:
    report = check_integrations(configured={"calcom": credentials_for(ctx.tenant.pk) is not None})
    report["calcom"]["calendar_backend"] = get_calendar_backend().name
    counts: dict[str, OutboxCounts] = {}
    rows = (
        OutboxMessage.objects.for_tenant(ctx.tenant)
        .filter(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD])
        .values("topic", "status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        entry = counts.setdefault(row["topic"], OutboxCounts(pending=0, dead=0))
        setattr(entry, row["status"], row["n"])
    return IntegrationHealthOutput(integrations=report, outbox=counts)


def _registered_topics(schema: dict[str, Any]) -> None:
    # Topics register when the apps load; the schema is built after that, on first use.
    schema["enum"] = sorted(outbox.registered_topics())


TopicName = Annotated[str, Field(json_schema_extra=_registered_topics)]


class RetryFailedSyncInput(OperationInput):
    scope: Literal["dead", "all"] = Field(
        default="dead",
        description="'dead': dead-lettered messages; 'all': also those still pending.",
    )
    topic: TopicName | None = Field(
        default=None, description="Only this topic, e.g. 'calendar.sync', 'notification.booking'."
    )
    appointment_id: int | None = Field(default=None, description="Only this appointment's.")


class RetryFailedSyncOutput(OperationOutput):
    requeued: int
    message_ids: list[int]


@operation(
    "integration.retryFailedSync",
    input=RetryFailedSyncInput,
    output=RetryFailedSyncOutput,
    permission=Permission.MANAGE_INTEGRATIONS,
    open_world=True,
    title="Retry failed syncs",
    description=(
        "Deliver the tenant's dead-lettered side effects again (calendar syncs, notifications) "
        "with a fresh retry budget, at most 500 per call. Delivered ones are never repeated."
    ),
    examples=({"topic": "calendar.sync"}, {"appointment_id": 42, "scope": "all"}),
)
def retry_failed_sync(ctx: CallContext, args: RetryFailedSyncInput) -> RetryFailedSyncOutput:
    statuses = [OutboxStatus.DEAD] + ([OutboxStatus.PENDING] if args.scope == "all" else [])
    messages = OutboxMessage.objects.for_tenant(ctx.tenant).filter(status__in=statuses)
    if args.topic is not None:
        if args.topic not in outbox.registered_topics():
            raise ValidationFailed(
                "Unknown topic.",
                details={"topic": [f"Use one of {', '.join(outbox.registered_topics())}."]},
            )
        messages = messages.filter(topic=args.topic)
    if args.appointment_id is not None:
        messages = messages.filter(payload__appointment_id=args.appointment_id)
    ids = outbox.retry(messages.order_by("pk")[:RETRY_LIMIT], actor=ctx.actor)
    return RetryFailedSyncOutput(requeued=len(ids), message_ids=ids)
