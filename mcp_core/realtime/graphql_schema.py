"""The GraphQL schema at /graphql (docs/contract.md, 4.8): every query and mutation is one
operation run by the orchestrator (the same validation, roles, rate limits, metrics and error
codes as REST and MCP; the envelope in `extensions`), typed by that operation's own input and
output models (graphql_types); nested fields read in batches (graphql_loaders); subscriptions
listen to the live channels' domain events (graphql_events).
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from pydantic import BaseModel
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from bookings.contracts import AppointmentOut, BookingListOutput
from bookings.contracts_availability import CheckAvailabilityOutput, SlotOut
from bookings.customer_contracts import CustomerOut
from common.errors import ValidationFailed
from mcp_core.operations import EmptyInput, registry
from mcp_core.realtime import graphql_loaders as loaders
from mcp_core.realtime.graphql_calls import graphql_error, run_operation
from mcp_core.realtime.graphql_cost import CostLimiter
from mcp_core.realtime.graphql_events import Subscription
from mcp_core.realtime.graphql_types import (
    ExtraFields,
    arguments,
    input_type,
    output_type,
    read_field,
)
from staff.contracts import ServiceOut, StaffAvailabilityOutput, StaffOut
from staff.contracts import SlotOut as StaffSlotOut
from tenants.contracts import BranchOut, SubscriptionOut, TenantOverview, TenantProfile

# A query is refused before it runs when it nests deeper, repeats fields under more aliases,
# is longer or could answer more fields (graphql_cost) than this.
MAX_DEPTH = 6
MAX_ALIASES = 15
MAX_TOKENS = 2000

# The names the contract gives the central types; every other type is named after its model.
GRAPHQL_NAMES: dict[type[BaseModel], str] = {
    TenantOverview: "TenantOverview",
    TenantProfile: "Tenant",
    SubscriptionOut: "TenantSubscription",
    BranchOut: "Branch",
    AppointmentOut: "Booking",
    BookingListOutput: "BookingList",
    CustomerOut: "Customer",
    ServiceOut: "Service",
    StaffOut: "Staff",
    SlotOut: "Slot",
    StaffSlotOut: "StaffSlot",
    CheckAvailabilityOutput: "Availability",
    StaffAvailabilityOutput: "StaffAvailability",
}

QUERIES = {
    "tenant": "tenant.getTenant",
    "branches": "tenant.listBranches",
    "bookings": "booking.listBookings",
    "availability": "booking.checkAvailability",
    "staff": "staff.listStaff",
    "staff_availability": "staff.getStaffAvailability",
}
MUTATIONS = {
    "create_booking": "booking.createBooking",
    "update_booking": "booking.updateBooking",
    "cancel_booking": "booking.cancelBooking",
    "update_staff_schedule": "staff.updateStaffSchedule",
    "assign_staff_to_service": "staff.assignStaffToService",
}


# ------------------------------------------------------------------------ nested fields


async def _customer(root: Any, info: Info) -> Any:
    return await loaders.customer_of(info, root["customer_id"])


async def _staff(root: Any, info: Info) -> Any:
    return await loaders.staff_of(info, root["staff_id"])


async def _service(root: Any, info: Info) -> Any:
    return await loaders.service_of(info, root["service_id"])


async def _branch(root: Any, info: Info) -> Any:
    return await loaders.branch_of(info, root["branch_id"])


async def _branch_bookings(root: Any, info: Info, date: str, status: str | None = None) -> Any:
    return await loaders.bookings_of(info, (root["id"], date, status))


def _lazy(name: str, *, many: bool = False) -> Any:
    # The nested types name each other (Booking.branch, Branch.bookings): strawberry finds
    # them by this module's attributes when it builds the schema.
    named: Any = Annotated[name, strawberry.lazy("mcp_core.realtime.graphql_schema")]
    return list[named] if many else named | None


for _resolver, _name in (
    (_customer, "Customer"),
    (_staff, "Staff"),
    (_service, "Service"),
    (_branch, "Branch"),
):
    _resolver.__annotations__["return"] = _lazy(_name)
_branch_bookings.__annotations__["return"] = _lazy("Booking", many=True)

_EXTRA: dict[type[BaseModel], ExtraFields] = {
    AppointmentOut: {
        "customer": strawberry.field(
            resolver=_customer, description="customer.getCustomers, batched per request."
        ),
        "staff": strawberry.field(resolver=_staff, description="From staff.listStaff."),
        "service": strawberry.field(resolver=_service, description="From staff.listServices."),
        "branch": strawberry.field(resolver=_branch, description="From tenant.listBranches."),
    },
    BranchOut: {
        "bookings": strawberry.field(
            resolver=_branch_bookings,
            description=(
                "The branch's bookings of one local day (YYYY-MM-DD), optionally of one "
                "status: booking.listBookings of the day, shared by every branch asked about."
            ),
        ),
    },
}


def _output(model: type[BaseModel]) -> type:
    return output_type(model, names=GRAPHQL_NAMES, extra=_EXTRA)


Booking = _output(AppointmentOut)
Branch = _output(BranchOut)
Customer = _output(CustomerOut)
Service = _output(ServiceOut)
Staff = _output(StaffOut)


# ------------------------------------------------------------------------- root fields


def _root_field(field_name: str, name: str, *, mutation: bool) -> Any:
    op = registry.get(name)
    if op is None:
        raise LookupError(f"GraphQL field {field_name} names no operation {name!r}")

    async def resolve(info: Info, args: Any) -> Any:
        return await run_operation(info, name, arguments(args))

    async def resolve_optional(info: Info, args: Any = None) -> Any:
        return await run_operation(info, name, arguments(args))

    async def resolve_without_args(info: Info) -> Any:
        return await run_operation(info, name)

    # `args` is non-null when the operation requires a field (`availability(args: …!)`).
    resolver: Any
    if op.input is EmptyInput:
        resolver = resolve_without_args
    elif any(f.is_required() for f in op.input.model_fields.values()):
        resolver = resolve
        resolver.__annotations__["args"] = input_type(op.input)
    else:
        resolver = resolve_optional
        resolver.__annotations__["args"] = input_type(op.input) | None
    resolver.__annotations__["return"] = _output(op.output)
    kind = strawberry.mutation if mutation else strawberry.field
    return kind(resolver=resolver, description=f"{name}: {op.description}")


def _root_type(name: str, fields: dict[str, str], *, mutation: bool) -> type:
    namespace = {
        field_name: _root_field(field_name, op_name, mutation=mutation)
        for field_name, op_name in fields.items()
    }
    return strawberry.type(type(name, (), namespace))


Query = _root_type("Query", QUERIES, mutation=False)
Mutation = _root_type("Mutation", MUTATIONS, mutation=True)

# Factories: strawberry builds each extension afresh per request.
_limits: list[Any] = [
    lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
    lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    CostLimiter,
]


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # An error with the envelope's code is the caller's (logged by the orchestrator). One
        # without a code, with no exception behind it or only graphql's own (a variable's
        # coercion), is a document refused by parsing, validation, the limits or coercion:
        # the caller's too, given the envelope's VALIDATION_FAILED. Anything else is ours and
        # is logged as strawberry does.
        unexpected = []
        for error in errors:
            if (error.extensions or {}).get("code"):
                continue
            if error.original_error is None or isinstance(error.original_error, GraphQLError):
                refused = ValidationFailed(error.message)
                error.extensions = {
                    **(error.extensions or {}),
                    **(graphql_error(refused).extensions or {}),
                }
            else:
                unexpected.append(error)
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=_limits,
    config=StrawberryConfig(default_resolver=read_field),
)
