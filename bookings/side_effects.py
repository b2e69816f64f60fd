"""The outbox handlers of the bookings app (`mcp_core.outbox`): what the messages written by
the booking services do when they are delivered. Thin: they read the payload and call a
service. Imported at start-up by `bookings.tools`, so web and worker processes know them.

- "calendar.sync" {appointment_id}: bring the appointment's calendar copy in line; a backend
  outage is retried, a request the calendar refused is dead-lettered at once; when retries run
  out the appointment's sync is marked failed.
- "notification.booking" {appointment_id, kind}: tell the customer (confirmation,
  cancellation, reschedule); retried while no channel reaches them.
"""

from __future__ import annotations

from typing import Any

from bookings import services
from integrations.calendar import CalendarError
from mcp_core import outbox
from mcp_core.models import OutboxMessage

ACTOR = outbox.OUTBOX_ACTOR


def _actor(message: OutboxMessage) -> str:
    """Who caused the message (its audit rows name them), else the outbox itself."""
    return str(message.payload.get("actor") or ACTOR)


def _calendar_gave_up(message: OutboxMessage) -> None:
    services.booking_calendar_sync_gave_up(
        tenant=message.tenant,
        actor=ACTOR,
        appointment_id=int(message.payload["appointment_id"]),
        error=message.last_error,
    )


@outbox.handler(services.CALENDAR_TOPIC, on_dead=_calendar_gave_up)
def deliver_calendar_sync(message: OutboxMessage) -> dict[str, Any]:
    appointment_id = int(message.payload["appointment_id"])
    try:
        status = services.booking_calendar_sync(
            tenant=message.tenant, appointment_id=appointment_id
        )
    except CalendarError as exc:
        services.booking_calendar_sync_failed(
            tenant=message.tenant,
            actor=_actor(message),
            appointment_id=appointment_id,
            error=str(exc),
            attempt=message.attempts,
        )
        if exc.permanent:
            raise outbox.PermanentDeliveryError(str(exc)) from exc
        raise
    return {"appointment_id": appointment_id, "sync_status": status}


@outbox.handler(services.NOTIFICATION_TOPIC)
def deliver_booking_notification(message: OutboxMessage) -> dict[str, Any]:
    appointment_id = int(message.payload["appointment_id"])
    kind = str(message.payload["kind"])
    sent = services.booking_notify(
        tenant=message.tenant, actor=_actor(message), appointment_id=appointment_id, kind=kind
    )
    return {"appointment_id": appointment_id, "kind": kind, "sent": sent}
