"""The routing.* operations (docs/contract.md).

Each handler maps its typed arguments to one selector or service call for the caller's tenant
and shapes the result; the routing engine lives in `routing.services`.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mcp_core.operations import CallContext, EmptyInput, operation
from mcp_core.permissions import Permission
from routing import selectors, services
from routing.contracts import (
    DEFAULT_DISTRIBUTION_DAYS,
    MAX_DISTRIBUTION_DAYS,
    AgentOut,
    BranchCallsOut,
    CallDistributionInput,
    CallDistributionOutput,
    FindNearestBranchInput,
    FindNearestBranchOutput,
    HourCallsOut,
    MatchedRuleOut,
    NearbyBranchOut,
    OutcomeCallsOut,
    RouteCallOutput,
    RoutedBranchOut,
    RouteIncomingCallInput,
    RouteToFallbackInput,
    RoutingMetadataOut,
    RoutingRuleOut,
    RoutingRulesOutput,
    UpdateRoutingRulesInput,
)
from routing.errors import InvalidRoutingInput
from routing.geo import Point
from routing.models import RoutingRule
from routing.opening import branch_is_open, opening_hours_today_de
from routing.rules import RuleConditions


def route_output(decision: services.RouteDecision) -> RouteCallOutput:
    branch = decision.branch
    rule = decision.matched_rule
    return RouteCallOutput(
        routing_decision=decision.routing_decision,  # type: ignore[arg-type]
        branch=(
            RoutedBranchOut(
                id=branch.pk,
                name=branch.name,
                address=selectors.full_address(branch),
                phone=branch.phone,
                time_zone=branch.time_zone,
                open_now=branch_is_open(branch, decision.decided_at),
                opening_hours_today=opening_hours_today_de(branch, decision.decided_at),
            )
            if branch is not None
            else None
        ),
        agent=AgentOut(
            agent_id=decision.agent.agent_id,
            language=decision.agent.language,
            source=decision.agent.source,  # type: ignore[arg-type]
        ),
        estimated_wait_time=decision.estimated_wait_seconds,
        routing_metadata=RoutingMetadataOut(
            dialled_number=decision.dialled_number,
            dialled_branch_id=decision.dialled.branch_id if decision.dialled else None,
            phone_number_matched=decision.dialled is not None,
            branch_open=decision.branch_open,
            branch_overloaded=decision.branch_overloaded,
            ongoing_calls=decision.ongoing_calls,
            reason=decision.reason,
            matched_rule=(
                MatchedRuleOut(
                    id=rule.pk, name=rule.name, priority=rule.priority, action=rule.action
                )
                if rule is not None
                else None
            ),
            distance_km=decision.distance_km,
            fallback_number=decision.fallback_number,
            decided_at=decision.decided_at.isoformat(),
        ),
    )


def rules_output(rules: list[RoutingRule]) -> RoutingRulesOutput:
    return RoutingRulesOutput(
        rules=[
            RoutingRuleOut(
                id=rule.pk,
                name=rule.name,
                priority=rule.priority,
                branch_id=rule.branch_id,
                conditions=selectors.rule_conditions(rule) or RuleConditions(),
                action=rule.action,
                target_branch_id=rule.target_branch_id,
                target_agent_id=rule.target_agent_id or None,
                is_active=rule.is_active,
            )
            for rule in rules
        ],
        count=len(rules),
    )


@operation(
    "routing.routeIncomingCall",
    input=RouteIncomingCallInput,
    output=RouteCallOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Route incoming call",
    description=(
        "Decide which branch and Retell agent answer a call to one of the tenant's numbers: the "
        "number's branch when open and not busy, unless an active routing rule says otherwise. A "
        "closed or busy branch hands over to the nearest open one; with none open the tenant's "
        "fallback answers."
    ),
    examples=({"phone_number": "+493012345670", "language": "de"},),
)
def route_incoming_call(ctx: CallContext, args: RouteIncomingCallInput) -> RouteCallOutput:
    location = args.caller_location
    decision = services.call_route(
        tenant=ctx.tenant,
        phone_number=args.phone_number,
        language=args.language,
        caller_location=Point(location.lat, location.lng) if location else None,
    )
    return route_output(decision)


@operation(
    "routing.findNearestBranch",
    input=FindNearestBranchInput,
    output=FindNearestBranchOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Find nearest branch",
    description=(
        "The tenant's active branches within max_distance km of a location, nearest first, at most "
        "5; available_now tells whether each is open now."
    ),
    examples=({"location": {"lat": 52.5208, "lng": 13.4095}, "max_distance": 25},),
)
def find_nearest_branch(ctx: CallContext, args: FindNearestBranchInput) -> FindNearestBranchOutput:
    nearby = selectors.branch_nearest_list(
        tenant=ctx.tenant,
        origin=Point(args.location.lat, args.location.lng),
        max_distance_km=args.max_distance,
        service_id=args.service_id,
        now=timezone.now(),
    )
    return FindNearestBranchOutput(
        branches=[
            NearbyBranchOut(
                id=item.branch.pk,
                name=item.branch.name,
                address=selectors.full_address(item.branch),
                distance_km=round(item.distance_km, 1),
                available_now=item.available_now,
            )
            for item in nearby
        ],
        total_found=len(nearby),
    )


@operation(
    "routing.getRoutingRules",
    input=EmptyInput,
    output=RoutingRulesOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get routing rules",
    description=(
        "The tenant's call-routing rules in the order they are tried (priority, then id)."
    ),
)
def get_routing_rules(ctx: CallContext, args: EmptyInput) -> RoutingRulesOutput:
    return rules_output(selectors.routing_rule_list(tenant=ctx.tenant))


@operation(
    "routing.updateRoutingRules",
    input=UpdateRoutingRulesInput,
    output=RoutingRulesOutput,
    permission=Permission.MANAGE_ROUTING,
    idempotent=True,
    destructive=True,
    title="Replace routing rules",
    description=(
        "Replace the tenant's whole rule set atomically (an empty list removes every rule) and "
        "return it. Any invalid rule fails the call with VALIDATION_FAILED and changes nothing."
    ),
    examples=(
        {
            "rules": [
                {
                    "name": "English callers",
                    "priority": 10,
                    "conditions": {"languages": ["en"]},
                    "action": "use_agent",
                    "target_agent_id": "agent_demo_en",
                },
                {
                    "name": "Evenings to Hamburg",
                    "priority": 20,
                    "branch_id": 1,
                    "conditions": {
                        "time_windows": [
                            {"start": "18:00", "end": "20:00", "weekdays": ["monday", "friday"]}
                        ]
                    },
                    "action": "route_to_branch",
                    "target_branch_id": 2,
                },
            ]
        },
    ),
)
def update_routing_rules(ctx: CallContext, args: UpdateRoutingRulesInput) -> RoutingRulesOutput:
    rules = services.routing_rules_replace(tenant=ctx.tenant, actor=ctx.actor, rules=args.rules)
    return rules_output(rules)


@operation(
    "routing.routeToFallback",
    input=RouteToFallbackInput,
    output=RouteCallOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Route to fallback",
    description=(
        "The tenant's fallback answer, which always exists: the branch of setting "
        "default_branch_id, else the dialled number's, else the first active one, with the agent "
        "of default_agent_id, else that branch's, else the server's. An unknown phone_number is no "
        "error here."
    ),
    examples=({"phone_number": "+493012345670", "reason": "agent_unavailable"},),
)
def route_to_fallback(ctx: CallContext, args: RouteToFallbackInput) -> RouteCallOutput:
    decision = services.call_route_fallback(
        tenant=ctx.tenant,
        phone_number=args.phone_number,
        language=args.language,
        reason=args.reason or "requested",
    )
    return route_output(decision)


def _date_range(
    date_from: dt.date | None, date_to: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """Fill the open ends: up to today (or date_from, if later); 30 days back from date_to.
    Raises InvalidRoutingInput when an open-ended range would span more than a year."""
    span = dt.timedelta(days=DEFAULT_DISTRIBUTION_DAYS - 1)
    end = date_to or (max(date_from, today) if date_from else today)
    start = date_from or end - span
    if (end - start).days + 1 > MAX_DISTRIBUTION_DAYS:
        raise InvalidRoutingInput(
            details={"date_from": [f"the range may span at most {MAX_DISTRIBUTION_DAYS} days"]}
        )
    return start, end


@operation(
    "routing.getCallDistribution",
    input=CallDistributionInput,
    output=CallDistributionOutput,
    permission=Permission.ACCESS_MCP,
    read_only=True,
    title="Get call distribution",
    description=(
        "Calls that started in a date range (in the tenant's time zone), counted per branch, per "
        "hour of day and per outcome."
    ),
    examples=({"date_from": "2027-06-01", "date_to": "2027-06-30"},),
)
def get_call_distribution(ctx: CallContext, args: CallDistributionInput) -> CallDistributionOutput:
    today = timezone.now().astimezone(selectors.tenant_zone(ctx.tenant)).date()
    date_from, date_to = _date_range(args.date_from, args.date_to, today)
    result = selectors.call_distribution(
        tenant=ctx.tenant, date_from=date_from, date_to=date_to, branch_id=args.branch_id
    )
    return CallDistributionOutput(
        total_calls=result.total_calls,
        by_branch=[BranchCallsOut(branch_id=b, calls=n) for b, n in result.by_branch],
        by_hour=[HourCallsOut(hour=h, calls=n) for h, n in result.by_hour],
        by_outcome=OutcomeCallsOut(**result.by_outcome),
        date_from=result.date_from,
        date_to=result.date_to,
        time_zone=result.time_zone,
    )
