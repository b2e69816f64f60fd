"""The GraphQL schema at /graphql (docs/contract.md, GraphQL): every query and mutation is one
operation run by the orchestrator (the same validation, roles, rate limits, metrics and error
codes as REST and MCP; the envelope in `extensions`); subscriptions listen to the live
channels' domain events.

Arguments are the operation's own JSON object (`args`), so its input model stays the one
definition (docs/contract.md, section 3); results are the operation's JSON result.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, Info

from common.errors import ApplicationError, AuthenticationFailed
from mcp_core.auth import Principal
from mcp_core.events import LAYER_MESSAGE_TYPE, group_name
from mcp_core.orchestrator import execute_named
from mcp_core.realtime.subscriptions import parse_channels, require_owned

# A query is refused before it runs when it nests deeper, repeats fields under more aliases or
# is longer than this: the cost of any accepted query stays bounded.
MAX_DEPTH = 6
MAX_ALIASES = 15
MAX_TOKENS = 2000


def _error(exc: ApplicationError, correlation_id: str = "") -> GraphQLError:
    envelope = exc.envelope(correlation_id)["error"]
    return GraphQLError(
        exc.message,
        extensions={
            "code": envelope["code"],
            "type": envelope["type"],
            "details": envelope["details"],
            "correlation_id": correlation_id,
        },
    )


def _principal(info: Info) -> Principal:
    principal = info.context.get("principal")
    if principal is None:
        raise _error(info.context.get("auth_error") or AuthenticationFailed())
    return principal


def _run(info: Info, name: str, args: dict[str, Any] | None) -> Any:
    result = execute_named(_principal(info), name, args or {}, source="graphql")
    if result.error is not None:
        raise _error(result.error, result.correlation_id)
    return result.data


async def _call(info: Info, name: str, args: Any = None) -> Any:
    return await sync_to_async(_run)(info, name, args)


@strawberry.type
class Query:
    @strawberry.field(description="The caller's company (tenant.getTenant).")
    async def tenant(self, info: Info) -> JSON:
        return await _call(info, "tenant.getTenant")

    @strawberry.field(description="tenant.listBranches with `args`.")
    async def branches(self, info: Info, args: JSON | None = None) -> JSON:
        return await _call(info, "tenant.listBranches", args)

    @strawberry.field(description="booking.listBookings with `args`.")
    async def bookings(self, info: Info, args: JSON | None = None) -> JSON:
        return await _call(info, "booking.listBookings", args)

    @strawberry.field(description="booking.checkAvailability with `args`.")
    async def availability(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "booking.checkAvailability", args)

    @strawberry.field(description="staff.listStaff with `args`.")
    async def staff(self, info: Info, args: JSON | None = None) -> JSON:
        return await _call(info, "staff.listStaff", args)

    @strawberry.field(description="staff.getStaffAvailability with `args`.")
    async def staff_availability(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "staff.getStaffAvailability", args)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="booking.createBooking with `args`.")
    async def create_booking(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "booking.createBooking", args)

    @strawberry.mutation(description="booking.updateBooking with `args`.")
    async def update_booking(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "booking.updateBooking", args)

    @strawberry.mutation(description="booking.cancelBooking with `args`.")
    async def cancel_booking(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "booking.cancelBooking", args)

    @strawberry.mutation(description="staff.updateStaffSchedule with `args`.")
    async def update_staff_schedule(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "staff.updateStaffSchedule", args)

    @strawberry.mutation(description="staff.assignStaffToService with `args`.")
    async def assign_staff_to_service(self, info: Info, args: JSON) -> JSON:
        return await _call(info, "staff.assignStaffToService", args)


@strawberry.type(description="A domain event (docs/events.md).")
class Event:
    id: int
    event: str
    version: int
    occurred_at: str
    tenant_id: int
    data: JSON


async def _events(info: Info, channel: str, prefix: str) -> AsyncGenerator[Event, None]:
    principal = _principal(info)
    try:
        channels = parse_channels([channel])
        await sync_to_async(require_owned)(principal.tenant, channels)
    except ApplicationError as exc:
        raise _error(exc) from exc
    consumer = info.context["ws"]
    listening = consumer.listen_to_channel(LAYER_MESSAGE_TYPE, groups=[group_name(channel)])
    async with listening as messages:
        async for message in messages:
            wire = message["event"]
            if wire["tenant_id"] == principal.tenant.pk and wire["event"].startswith(prefix):
                yield Event(
                    id=wire["id"],
                    event=wire["event"],
                    version=wire["version"],
                    occurred_at=wire["occurred_at"],
                    tenant_id=wire["tenant_id"],
                    data=wire["data"],
                )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The branch's booking.* events as they commit.")
    async def booking_updated(
        self, info: Info, branch_id: strawberry.ID
    ) -> AsyncGenerator[Event, None]:
        async for event in _events(info, f"branch.{branch_id}", "booking."):
            yield event

    @strawberry.subscription(description="The branch's staff.status_changed events.")
    async def staff_status_changed(
        self, info: Info, branch_id: strawberry.ID
    ) -> AsyncGenerator[Event, None]:
        async for event in _events(info, f"branch.{branch_id}", "staff.status_changed"):
            yield event

    @strawberry.subscription(description="The call's queue.position_updated events.")
    async def queue_position_updated(
        self, info: Info, call_id: strawberry.ID
    ) -> AsyncGenerator[Event, None]:
        async for event in _events(info, f"call.{call_id}", "queue.position_updated"):
            yield event


# Instances, as strawberry's documentation shows them (its annotation names only classes).
_limits: list[Any] = [
    QueryDepthLimiter(max_depth=MAX_DEPTH),
    MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    MaxTokensLimiter(max_token_count=MAX_TOKENS),
]


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # An error with the envelope's code is the caller's (logged by the orchestrator);
        # anything else is ours and is logged as strawberry does.
        unexpected = [e for e in errors if not (e.extensions or {}).get("code")]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = Schema(query=Query, mutation=Mutation, subscription=Subscription, extensions=_limits)
