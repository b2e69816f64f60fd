"""GraphQL subscriptions: the live channels' domain events (docs/events.md) with typed
payloads. The payloads are the events' own (ids, UTC times, statuses), never personal data.
Their fields are those docs/events.md lists; the events' writers build them as dicts, so
these three types are their one typed statement."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from strawberry.types import Info

from common.errors import ApplicationError
from mcp_core.events import LAYER_MESSAGE_TYPE, group_name
from mcp_core.realtime.graphql_calls import graphql_error, principal_of
from mcp_core.realtime.subscriptions import parse_channels, require_owned


@strawberry.type(description="Where a rescheduled booking was before (UTC).")
class PreviousSlot:
    start_time: str | None = None
    end_time: str | None = None
    staff_id: int | None = None


@strawberry.type(description="booking.* payload (docs/events.md); times in UTC.")
class BookingEventData:
    appointment_id: int
    confirmation_number: str
    status: str
    start_time: str
    end_time: str
    branch_id: int
    service_id: int
    staff_id: int
    customer_id: int
    source: str
    changed: list[str] | None = strawberry.field(
        default=None, description="booking.updated: the names of the changed fields."
    )
    previous: PreviousSlot | None = strawberry.field(
        default=None, description="booking.rescheduled: the time and staff member before."
    )


@strawberry.type(description="staff.status_changed payload (docs/events.md).")
class StaffStatusData:
    staff_id: int
    branch_id: int
    change: str = strawberry.field(description="schedule, time_blocked or time_unblocked.")
    kind: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@strawberry.type(description="queue.position_updated payload (docs/events.md).")
class QueuePositionData:
    call_id: str
    branch_id: int
    position: int = strawberry.field(description="1 = next.")


@strawberry.type(description="A booking.* domain event.")
class BookingEvent:
    id: int
    event: str
    version: int
    occurred_at: str
    tenant_id: int
    data: BookingEventData


@strawberry.type(description="A staff.status_changed domain event.")
class StaffStatusEvent:
    id: int
    event: str
    version: int
    occurred_at: str
    tenant_id: int
    data: StaffStatusData


@strawberry.type(description="A queue.position_updated domain event.")
class QueuePositionEvent:
    id: int
    event: str
    version: int
    occurred_at: str
    tenant_id: int
    data: QueuePositionData


def _payload(data_type: type, data: dict[str, Any]) -> Any:
    known = {name: data[name] for name in data_type.__annotations__ if name in data}
    if "previous" in known and isinstance(known["previous"], dict):
        known["previous"] = _payload(PreviousSlot, known["previous"])
    return data_type(**known)


async def _events(
    info: Info, channel: str, prefix: str, event_type: type, data_type: type
) -> AsyncGenerator[Any, None]:
    principal = principal_of(info)
    try:
        channels = parse_channels([channel])
        await sync_to_async(require_owned)(principal.tenant, channels)
    except ApplicationError as exc:
        raise graphql_error(exc) from exc
    consumer = info.context["ws"]
    listening = consumer.listen_to_channel(LAYER_MESSAGE_TYPE, groups=[group_name(channel)])
    async with listening as messages:
        async for message in messages:
            wire = message["event"]
            if wire["tenant_id"] == principal.tenant.pk and wire["event"].startswith(prefix):
                yield event_type(
                    id=wire["id"],
                    event=wire["event"],
                    version=wire["version"],
                    occurred_at=wire["occurred_at"],
                    tenant_id=wire["tenant_id"],
                    data=_payload(data_type, wire["data"]),
                )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The branch's booking.* events as they commit.")
    async def booking_updated(
        self, info: Info, branch_id: strawberry.ID
    ) -> AsyncGenerator[BookingEvent, None]:
        channel = f"branch.{branch_id}"
        async for event in _events(info, channel, "booking.", BookingEvent, BookingEventData):
            yield event

    @strawberry.subscription(description="The branch's staff.status_changed events.")
    async def staff_status_changed(
        self, info: Info, branch_id: strawberry.ID
    ) -> AsyncGenerator[StaffStatusEvent, None]:
        channel = f"branch.{branch_id}"
        async for event in _events(
            info, channel, "staff.status_changed", StaffStatusEvent, StaffStatusData
        ):
            yield event

    @strawberry.subscription(description="The call's queue.position_updated events.")
    async def queue_position_updated(
        self, info: Info, call_id: strawberry.ID
    ) -> AsyncGenerator[QueuePositionEvent, None]:
        channel = f"call.{call_id}"
        async for event in _events(
            info, channel, "queue.position_updated", QueuePositionEvent, QueuePositionData
        ):
            yield event
