"""The booking saga, declared once at import (bookings/tools/booking.py imports this module,
so every web and worker process knows its compensations for crash recovery).

    reserve        booking_reserve                 ↺ booking_release (delete the appointment)
    calendar_sync  booking_calendar_deliver        ↺ booking_calendar_unsync (cancel the event)
    notifications  booking_notification_deliver    (nothing to undo: a message cannot be unsent)

The reserve step writes the appointment and its outbox messages in one transaction; the later
steps only deliver those messages inline (the outbox retries them when that fails), so the
response can say `synced` and which channels confirmed the booking.

Each step is one call to a service in `bookings.services`; these adapters only translate the
saga's JSON context. No step holds a transaction open while the next one runs. When the reserve
step's result was lost with its process, `booking_release` finds the run's appointment from its
audit row, so recovery can still undo it. A step that only found the idempotency key's earlier
booking (`replayed`) makes the later steps skip: that booking had its own run.
"""

from __future__ import annotations

from typing import Any

from bookings import services
from bookings.enums import SyncStatus
from mcp_core.saga import Saga, SagaContext, Step


def _request(ctx: SagaContext) -> services.ReservationRequest:
    return services.ReservationRequest.from_context(ctx.data)


def _reservation(ctx: SagaContext) -> services.Reservation | None:
    result = ctx.results.get("reserve")
    return services.Reservation.from_result(result) if result else None


def reserve(ctx: SagaContext) -> dict[str, Any]:
    reservation = services.booking_reserve(
        tenant=ctx.tenant, request=_request(ctx), saga_run_id=str(ctx.run_id)
    )
    return reservation.to_result()


def release(ctx: SagaContext) -> None:
    services.booking_release(
        tenant=ctx.tenant,
        actor=ctx.data["actor"],
        reservation=_reservation(ctx),
        saga_run_id=str(ctx.run_id),
    )


def _calendar_to_sync(ctx: SagaContext) -> bool:
    reservation = _reservation(ctx)
    return (
        reservation is not None
        and not reservation.replayed
        and reservation.calendar_message_id is not None
    )


def _notification_to_send(ctx: SagaContext) -> bool:
    reservation = _reservation(ctx)
    return (
        reservation is not None
        and not reservation.replayed
        and reservation.notification_message_id is not None
    )


def calendar_sync(ctx: SagaContext) -> dict[str, Any]:
    reservation = _reservation(ctx)
    if reservation is None or reservation.replayed:
        return {"skipped": True}
    if reservation.calendar_message_id is None:
        return {"sync_status": SyncStatus.NOT_REQUIRED.value}
    status = services.booking_calendar_deliver(
        tenant=ctx.tenant,
        actor=ctx.data["actor"],
        appointment_id=reservation.appointment_id,
        message_id=reservation.calendar_message_id,
    )
    return {"sync_status": status}


def calendar_unsync(ctx: SagaContext) -> None:
    reservation = _reservation(ctx)
    if reservation is None or reservation.replayed:
        return
    services.booking_calendar_unsync(tenant=ctx.tenant, appointment_id=reservation.appointment_id)


def notify(ctx: SagaContext) -> dict[str, Any]:
    reservation = _reservation(ctx)
    if reservation is None or reservation.replayed:
        return {"skipped": True, "sent": []}
    if reservation.notification_message_id is None:
        return {"sent": []}
    sent = services.booking_notification_deliver(
        tenant=ctx.tenant,
        actor=ctx.data["actor"],
        appointment_id=reservation.appointment_id,
        message_id=reservation.notification_message_id,
    )
    return {"sent": sent}


booking_create_saga = Saga(
    "booking.create",
    steps=[
        Step("reserve", action=reserve, compensate=release, atomic=True),
        # Skipped without a transaction of its own when nothing was queued for them.
        Step(
            "calendar_sync",
            action=calendar_sync,
            compensate=calendar_unsync,
            applies=_calendar_to_sync,
        ),
        Step("notifications", action=notify, applies=_notification_to_send),
    ],
)
