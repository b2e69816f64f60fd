"""Inputs and outputs of the routing.* operations (docs/contract.md).

The input models are the operations' MCP inputSchema and OpenAPI request bodies. They check
shapes and ranges; `routing.services` checks meaning (the tenant's own branches, phone numbers
in E.164), so every caller gets the same rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from mcp_core.operations import (
    IsoDate,
    OperationInput,
    OperationOutput,
    PhoneText,
    after,
    given,
)
from routing.enums import RoutingAction
from routing.rules import RuleConditions

MAX_RULES = 50
MAX_DISTRIBUTION_DAYS = 366
DEFAULT_DISTRIBUTION_DAYS = 30

Latitude = Annotated[float, Field(ge=-90, le=90, description="Latitude in degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="Longitude in degrees.")]
CallLanguage = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$",
        description="The caller's language, ISO 639-1 (e.g. 'de', 'en', 'de-DE').",
    ),
]
AgentId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="A Retell agent id, e.g. 'agent_demo_berlin_de'.",
    ),
]

RoutingDecision = Literal[
    "branch_specific", "rule_branch", "overflow", "alternate_branch", "fallback"
]
_D_DECISION = (
    "branch_specific: the dialled branch answers; rule_branch: a routing rule sent the call to "
    "another branch; overflow: an overflow rule sent it to a free branch; alternate_branch: the "
    "dialled branch is closed or busy, the nearest open branch answers; fallback: the tenant's "
    "default branch and agent answer."
)


# ---------------------------------------------------------------------------------- inputs


class Location(OperationInput):
    lat: Latitude
    lng: Longitude


class FindNearestBranchInput(OperationInput):
    location: Location = Field(description="Where the caller is: {lat, lng}.")
    service_id: int | None = Field(
        default=None,
        description="Only branches with an active staff member qualified for this service.",
    )
    max_distance: float = Field(
        default=50, gt=0, le=20_000, description="Search radius in km (default 50)."
    )


class RouteIncomingCallInput(OperationInput):
    phone_number: PhoneText = Field(
        description="The dialled number (E.164, or German national form such as '030 1234567').",
    )
    caller_location: Location | None = Field(
        default=None,
        description="Where the caller is; an alternate branch is chosen nearest to it.",
    )
    language: CallLanguage = "de"


class RouteToFallbackInput(OperationInput):
    phone_number: str | None = Field(
        default=None,
        max_length=32,
        description="The dialled number, if known; an unknown number is no error here.",
    )
    language: CallLanguage = "de"
    reason: str = Field(
        default="requested", max_length=100, description="Why the fallback is used (logged)."
    )


def _action(*actions: str) -> dict[str, Any]:
    return {"properties": {"action": {"enum": list(actions)}}}


class RoutingRuleIn(OperationInput):
    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(
        default=100, ge=0, le=1000, description="Lower is tried first; ties keep list order."
    )
    branch_id: int | None = Field(
        default=None,
        description="Apply only to calls to this branch's numbers; null for every branch.",
    )
    conditions: RuleConditions = Field(
        default_factory=RuleConditions,
        description=(
            "All set conditions must hold: time_windows [{start: 'HH:MM', end: 'HH:MM', "
            "weekdays: ['monday', ...]}] in the branch's local time (end before start runs "
            "over midnight), languages ['en', ...], min_ongoing_calls n."
        ),
    )
    action: RoutingAction = Field(
        description=(
            "route_to_branch (needs target_branch_id), overflow (to target_branch_id when it is "
            "open and free, else the nearest such branch), use_agent (needs target_agent_id), "
            "fallback (the tenant's default branch and agent)."
        )
    )
    target_branch_id: int | None = Field(
        default=None, description="An active branch of the tenant (route_to_branch, overflow)."
    )
    target_agent_id: AgentId | None = Field(
        default=None, description="The Retell agent to answer (use_agent; optional otherwise)."
    )
    is_active: bool = True

    # _targets_fit_action, as the schema states it.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {"if": _action("route_to_branch"), "then": given("target_branch_id")},
                {"if": _action("use_agent"), "then": given("target_agent_id")},
                {
                    "if": _action("use_agent", "fallback"),
                    "then": {"not": given("target_branch_id")},
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _targets_fit_action(self) -> RoutingRuleIn:
        if self.action == RoutingAction.ROUTE_TO_BRANCH and self.target_branch_id is None:
            raise ValueError("route_to_branch needs target_branch_id")
        if self.action == RoutingAction.USE_AGENT and self.target_agent_id is None:
            raise ValueError("use_agent needs target_agent_id")
        if self.action in (RoutingAction.USE_AGENT, RoutingAction.FALLBACK) and (
            self.target_branch_id is not None
        ):
            raise ValueError(f"{self.action} takes no target_branch_id")
        return self


class UpdateRoutingRulesInput(OperationInput):
    rules: list[RoutingRuleIn] = Field(
        max_length=MAX_RULES,
        description=(
            "The tenant's complete rule set; it replaces the current one atomically "
            "(an empty list removes every rule). Any invalid rule changes nothing."
        ),
    )


class CallDistributionInput(OperationInput):
    date_from: IsoDate | None = Field(
        default=None,
        description=(
            f"First day (YYYY-MM-DD, tenant's time zone); default {DEFAULT_DISTRIBUTION_DAYS - 1} "
            "days before date_to."
        ),
    )
    date_to: IsoDate | None = Field(
        default=None,
        description="Last day, inclusive (YYYY-MM-DD); default today.",
        json_schema_extra=after("date_from", max_days=MAX_DISTRIBUTION_DAYS),
    )
    branch_id: int | None = Field(default=None, description="Only calls of this branch.")

    @model_validator(mode="after")
    def _range(self) -> CallDistributionInput:
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise ValueError("date_to must not be before date_from")
            if (self.date_to - self.date_from).days + 1 > MAX_DISTRIBUTION_DAYS:
                raise ValueError(f"the range may span at most {MAX_DISTRIBUTION_DAYS} days")
        return self


# --------------------------------------------------------------------------------- outputs


class NearbyBranchOut(OperationOutput):
    id: int
    name: str
    address: str
    distance_km: float
    available_now: bool


class FindNearestBranchOutput(OperationOutput):
    branches: list[NearbyBranchOut]
    total_found: int


class RoutedBranchOut(OperationOutput):
    id: int
    name: str
    address: str
    phone: str
    time_zone: str
    open_now: bool
    opening_hours_today: str = Field(description="e.g. '09:00–18:00' or 'heute geschlossen'.")


class AgentOut(OperationOutput):
    agent_id: str | None = Field(description="Retell agent id; null leaves Retell's own choice.")
    language: str
    source: Literal["rule", "phone_number", "tenant_default", "default", "none"]


class MatchedRuleOut(OperationOutput):
    id: int
    name: str
    priority: int
    action: str


class RoutingMetadataOut(OperationOutput):
    dialled_number: str | None
    dialled_branch_id: int | None
    phone_number_matched: bool
    branch_open: bool | None
    branch_overloaded: bool | None
    ongoing_calls: int = Field(description="Calls ongoing now at the branch that answers.")
    reason: str
    matched_rule: MatchedRuleOut | None
    distance_km: float | None = Field(description="Distance to the alternate branch, if any.")
    fallback_number: str | None = Field(description="Number to transfer to on fallback.")
    decided_at: str


class RouteCallOutput(OperationOutput):
    routing_decision: RoutingDecision = Field(description=_D_DECISION)
    branch: RoutedBranchOut | None
    agent: AgentOut
    estimated_wait_time: int = Field(description="Seconds until an agent line is free.")
    routing_metadata: RoutingMetadataOut


class RoutingRuleOut(OperationOutput):
    id: int
    name: str
    priority: int
    branch_id: int | None
    conditions: RuleConditions
    action: str
    target_branch_id: int | None
    target_agent_id: str | None
    is_active: bool


class RoutingRulesOutput(OperationOutput):
    rules: list[RoutingRuleOut]
    count: int


class BranchCallsOut(OperationOutput):
    branch_id: int | None = Field(description="null for calls not linked to a branch.")
    calls: int


class HourCallsOut(OperationOutput):
    hour: int = Field(description="Hour of day 0–23 in the tenant's time zone.")
    calls: int


class OutcomeCallsOut(OperationOutput):
    booked: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    no_booking: int = 0
    transferred: int = 0
    failed: int = 0
    unknown: int = 0


class CallDistributionOutput(OperationOutput):
    total_calls: int
    by_branch: list[BranchCallsOut]
    by_hour: list[HourCallsOut] = Field(description="All 24 hours, zeros included.")
    by_outcome: OutcomeCallsOut
    date_from: dt.date
    date_to: dt.date
    time_zone: str
