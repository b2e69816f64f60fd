"""The routing engine: which branch and which Retell agent answer a call, and the writes of
the routing app (the rule set).

A decision reads a fixed set of rows — the tenant's active phone numbers, active branches,
routing rules and one aggregate of current call load — so routing costs the same few queries
however large the tenant. It never writes: a decision is recorded by the caller (the Retell
webhook stores the CallLog).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from bookings.enums import ACTIVE_STATUSES
from bookings.models import Appointment, Customer
from common.errors import ApplicationError
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.audit import audit_record
from routing import selectors
from routing.contracts import RoutingRuleIn
from routing.enums import RoutingAction
from routing.errors import InvalidRoutingInput, InvalidRoutingRules
from routing.geo import Point, haversine_km
from routing.models import PhoneNumber, RoutingRule
from routing.opening import FALLBACK_ZONE, branch_is_open, branch_local, opening_hours_today_de
from routing.rules import language_primary
from routing.speech import german_date, german_datetime
from tenants.models import Branch, Company

logger = logging.getLogger(__name__)

# Tenant settings (tenant.updateTenantSettings) the fallback reads.
DEFAULT_BRANCH_SETTING = "default_branch_id"
DEFAULT_AGENT_SETTING = "default_agent_id"


# ---------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class AgentChoice:
    agent_id: str | None
    language: str
    source: str  # rule | phone_number | tenant_default | default | none


@dataclass(frozen=True)
class RouteDecision:
    routing_decision: str
    branch: Branch | None
    agent: AgentChoice
    estimated_wait_seconds: int
    ongoing_calls: int
    reason: str
    decided_at: dt.datetime
    dialled: PhoneNumber | None = None
    dialled_number: str | None = None
    branch_open: bool | None = None
    branch_overloaded: bool | None = None
    matched_rule: RoutingRule | None = None
    distance_km: float | None = None
    fallback_number: str | None = None


@dataclass(frozen=True)
class _Context:
    tenant: Company
    now: dt.datetime
    numbers: list[PhoneNumber]
    branches: dict[int, Branch]  # active branches by id, in id order
    load: selectors.CallLoad
    rules: list[RoutingRule] = field(default_factory=list)


def _context(tenant: Company, now: dt.datetime) -> _Context:
    """Everything a decision reads: four queries."""
    return _Context(
        tenant=tenant,
        now=now,
        numbers=selectors.phone_number_list(tenant=tenant),
        branches={b.pk: b for b in selectors.branch_active_list(tenant=tenant)},
        load=selectors.call_load(tenant=tenant, now=now),
        rules=[rule for rule in selectors.routing_rule_list(tenant=tenant) if rule.is_active],
    )


def _e164(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber as exc:
        raise InvalidRoutingInput(
            "The phone number is not valid.", details={"phone_number": [str(exc)]}
        ) from exc


def call_route(
    *,
    tenant: Company,
    phone_number: str,
    language: str = "de",
    caller_location: Point | None = None,
    now: dt.datetime | None = None,
) -> RouteDecision:
    """Route a call to one of the tenant's numbers.

    The dialled number's branch answers when it is open (business hours in its own zone) and
    not overloaded; the first matching active rule (priority order) may send the call
    elsewhere, choose the agent or fall back; a closed or busy branch hands over to the open
    branch nearest the caller (or the dialled branch); with none open, the fallback answers.
    Raises InvalidRoutingInput for a malformed number and PhoneNumberNotFound for a number
    that is not the tenant's.
    """
    number = _e164(phone_number)
    ctx = _context(tenant, now or timezone.now())
    dialled = selectors.phone_number_pick(ctx.numbers, number)
    return _route(ctx, dialled, language, caller_location)


def _route(
    ctx: _Context, dialled: PhoneNumber, language: str, caller_location: Point | None
) -> RouteDecision:
    branch = dialled.branch
    is_open = branch_is_open(branch, ctx.now)
    ongoing = ctx.load.ongoing_at(branch.pk)
    overloaded = ongoing >= selectors.branch_capacity(branch)
    local_now = branch_local(branch, ctx.now)
    origin = caller_location or Point.of(branch.latitude, branch.longitude)
    base: dict[str, Any] = {
        "branch_open": is_open,
        "branch_overloaded": overloaded,
    }

    agent: AgentChoice | None = None
    agent_rule: RoutingRule | None = None
    for rule in ctx.rules:
        if rule.branch_id is not None and rule.branch_id != branch.pk:
            continue
        conditions = selectors.rule_conditions(rule)
        if conditions is None or not conditions.matches(
            local_now=local_now, language=language, ongoing_calls=ongoing
        ):
            continue
        if rule.action == RoutingAction.ROUTE_TO_BRANCH:
            target = ctx.branches.get(rule.target_branch_id or 0)
            if target is None:
                logger.warning("routing rule %s targets no active branch; skipped", rule.pk)
                continue
            return _answer(
                ctx,
                "rule_branch",
                target,
                language,
                dialled=dialled,
                reason="rule",
                rule=rule,
                **base,
            )
        if rule.action == RoutingAction.OVERFLOW:
            found = _free_branch(
                ctx, exclude=branch.pk, origin=origin, preferred=rule.target_branch_id
            )
            if found is None:
                return _fallback(
                    ctx, dialled, language, reason="overflow_no_free_branch", rule=rule, **base
                )
            target, distance = found
            return _answer(
                ctx,
                "overflow",
                target,
                language,
                dialled=dialled,
                reason="rule",
                rule=rule,
                distance_km=distance,
                **base,
            )
        if rule.action == RoutingAction.USE_AGENT:
            # The rule picks the agent; which branch answers is decided as without rules.
            agent = AgentChoice(rule.target_agent_id, language_primary(language), "rule")
            agent_rule = rule
            break
        if rule.action == RoutingAction.FALLBACK:
            return _fallback(ctx, dialled, language, reason="rule", rule=rule, **base)

    if is_open and not overloaded:
        return _answer(
            ctx,
            "branch_specific",
            branch,
            language,
            dialled=dialled,
            reason="open",
            rule=agent_rule,
            agent=agent,
            **base,
        )
    reason = "inactive" if not branch.is_active else "closed" if not is_open else "overloaded"
    found = _free_branch(ctx, exclude=branch.pk, origin=origin)
    if found is not None:
        target, distance = found
        return _answer(
            ctx,
            "alternate_branch",
            target,
            language,
            dialled=dialled,
            reason=reason,
            rule=agent_rule,
            agent=agent,
            distance_km=distance,
            **base,
        )
    return _fallback(
        ctx,
        dialled,
        language,
        reason=f"{reason}_no_alternate",
        rule=agent_rule,
        agent=agent,
        **base,
    )


def _free_branch(
    ctx: _Context, *, exclude: int, origin: Point | None, preferred: int | None = None
) -> tuple[Branch, float | None] | None:
    """An open, not overloaded active branch other than `exclude`: `preferred` when it is
    such a branch, else the nearest to `origin` (branches without coordinates last)."""
    free = [
        b
        for b in ctx.branches.values()
        if b.pk != exclude
        and branch_is_open(b, ctx.now)
        and ctx.load.ongoing_at(b.pk) < selectors.branch_capacity(b)
    ]

    def distance(b: Branch) -> float | None:
        point = Point.of(b.latitude, b.longitude)
        return haversine_km(origin, point) if origin and point else None

    for b in free:
        if b.pk == preferred:
            return b, distance(b)
    measured = [(b, distance(b)) for b in free]
    measured.sort(key=lambda item: (item[1] is None, item[1] or 0.0, item[0].pk))
    return measured[0] if measured else None


def _agent_for(
    ctx: _Context, branch: Branch | None, language: str, dialled: PhoneNumber | None
) -> AgentChoice:
    """The agent of one of the branch's numbers, preferring the caller's language and then
    the dialled number; else the tenant's default agent; else RETELL_DEFAULT_AGENT_ID."""
    wanted = language_primary(language)
    if branch is not None:
        candidates = [n for n in ctx.numbers if n.branch_id == branch.pk and n.retell_agent_id]
        candidates.sort(key=lambda n: (language_primary(n.language) != wanted, n != dialled))
        if candidates:
            best = candidates[0]
            language = language_primary(best.language)
            return AgentChoice(best.retell_agent_id, language, "phone_number")
    return _default_agent(ctx.tenant, wanted)


def _default_agent(tenant: Company, language: str) -> AgentChoice:
    configured = (tenant.settings or {}).get(DEFAULT_AGENT_SETTING)
    if isinstance(configured, str) and configured.strip():
        return AgentChoice(configured.strip(), language, "tenant_default")
    if settings.RETELL_DEFAULT_AGENT_ID:
        return AgentChoice(settings.RETELL_DEFAULT_AGENT_ID, language, "default")
    return AgentChoice(None, language, "none")


def _wait_seconds(ctx: _Context, branch: Branch | None) -> int:
    """Seconds until a line is free: calls beyond the branch's capacity queue, and each place
    in the queue waits the average handle time shared over the lines."""
    if branch is None:
        return 0
    capacity = selectors.branch_capacity(branch)
    queued = max(0, ctx.load.ongoing_at(branch.pk) - capacity + 1)
    return math.ceil(queued * ctx.load.average_handle_seconds(branch.pk) / capacity)


def _answer(
    ctx: _Context,
    decision: str,
    branch: Branch,
    language: str,
    *,
    reason: str,
    dialled: PhoneNumber | None,
    rule: RoutingRule | None = None,
    agent: AgentChoice | None = None,
    distance_km: float | None = None,
    branch_open: bool | None = None,
    branch_overloaded: bool | None = None,
) -> RouteDecision:
    if agent is None and rule is not None and rule.target_agent_id:
        agent = AgentChoice(rule.target_agent_id, language_primary(language), "rule")
    return RouteDecision(
        routing_decision=decision,
        branch=branch,
        agent=agent or _agent_for(ctx, branch, language, dialled),
        estimated_wait_seconds=_wait_seconds(ctx, branch),
        ongoing_calls=ctx.load.ongoing_at(branch.pk),
        reason=reason,
        decided_at=ctx.now,
        dialled=dialled,
        dialled_number=dialled.number if dialled else None,
        branch_open=branch_open,
        branch_overloaded=branch_overloaded,
        matched_rule=rule,
        distance_km=round(distance_km, 1) if distance_km is not None else None,
    )


def _fallback(
    ctx: _Context,
    dialled: PhoneNumber | None,
    language: str,
    *,
    reason: str,
    rule: RoutingRule | None = None,
    agent: AgentChoice | None = None,
    dialled_number: str | None = None,
    branch_open: bool | None = None,
    branch_overloaded: bool | None = None,
) -> RouteDecision:
    """The answer that always exists for a known tenant: its default branch (setting
    `default_branch_id`, else the dialled number's branch, else its first active branch) and
    its default agent (setting `default_agent_id`, else that branch's agent, else
    RETELL_DEFAULT_AGENT_ID)."""
    branch = _fallback_branch(ctx, dialled)
    if agent is None and rule is not None and rule.target_agent_id:
        agent = AgentChoice(rule.target_agent_id, language_primary(language), "rule")
    if agent is None:
        agent = _default_agent(ctx.tenant, language_primary(language))
        if agent.source != "tenant_default" and branch is not None:
            from_branch = _agent_for(ctx, branch, language, dialled)
            agent = from_branch if from_branch.agent_id else agent
    return RouteDecision(
        routing_decision="fallback",
        branch=branch,
        agent=agent,
        estimated_wait_seconds=_wait_seconds(ctx, branch),
        ongoing_calls=ctx.load.ongoing_at(branch.pk) if branch else 0,
        reason=reason,
        decided_at=ctx.now,
        dialled=dialled,
        dialled_number=dialled.number if dialled else dialled_number,
        branch_open=branch_open,
        branch_overloaded=branch_overloaded,
        matched_rule=rule,
        fallback_number=ctx.tenant.phone or (branch.phone if branch else "") or None,
    )


def _fallback_branch(ctx: _Context, dialled: PhoneNumber | None) -> Branch | None:
    configured = (ctx.tenant.settings or {}).get(DEFAULT_BRANCH_SETTING)
    if isinstance(configured, int) and configured in ctx.branches:
        return ctx.branches[configured]
    if dialled is not None and dialled.branch_id in ctx.branches:
        return ctx.branches[dialled.branch_id]
    return next(iter(ctx.branches.values()), None)


def call_route_fallback(
    *,
    tenant: Company,
    phone_number: str | None = None,
    language: str = "de",
    reason: str = "requested",
    now: dt.datetime | None = None,
) -> RouteDecision:
    """The tenant's fallback answer; never raises for a known tenant. A number that is
    malformed or not the tenant's is only noted (`dialled_number`), never an error."""
    ctx = _context(tenant, now or timezone.now())
    number: str | None = None
    if phone_number:
        try:
            number = normalize_phone(phone_number)
        except InvalidPhoneNumber:
            number = None
    dialled = next((n for n in ctx.numbers if n.number == number), None)
    return _fallback(ctx, dialled, language, reason=reason, dialled_number=number)


# ------------------------------------------------------------------------------- the rules


def _rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "priority": rule.priority,
        "branch_id": rule.branch_id,
        "conditions": rule.conditions,
        "action": rule.action,
        "target_branch_id": rule.target_branch_id,
        "target_agent_id": rule.target_agent_id or None,
        "is_active": rule.is_active,
    }


def routing_rule_errors(
    rules: list[RoutingRuleIn], branches: dict[int, Branch]
) -> dict[str, list[str]]:
    """Meaning checks the input model cannot make: branches must be the tenant's (targets
    active ones). Field paths as in the contract's details, e.g. 'rules.2.target_branch_id'."""
    errors: dict[str, list[str]] = {}
    for index, rule in enumerate(rules):
        if rule.branch_id is not None and rule.branch_id not in branches:
            errors.setdefault(f"rules.{index}.branch_id", []).append("Not a branch of this tenant.")
        target = rule.target_branch_id
        if target is not None:
            if target not in branches or not branches[target].is_active:
                errors.setdefault(f"rules.{index}.target_branch_id", []).append(
                    "Not an active branch of this tenant."
                )
            elif target == rule.branch_id:
                errors.setdefault(f"rules.{index}.target_branch_id", []).append(
                    "Must differ from branch_id."
                )
    return errors


@transaction.atomic
def routing_rules_replace(
    *, tenant: Company, actor: str, rules: list[RoutingRuleIn]
) -> list[RoutingRule]:
    """Replace the tenant's whole rule set in one transaction and audit before and after.

    Concurrent replacements are serialised on the tenant row, so the result is always one
    caller's complete set. Raises InvalidRoutingRules (nothing changed) when a rule names a
    branch that is not the tenant's or targets an inactive one.
    """
    Company.objects.select_for_update().filter(pk=tenant.pk).first()
    branches = {b.pk: b for b in Branch.objects.for_tenant(tenant)}
    errors = routing_rule_errors(rules, branches)
    if errors:
        raise InvalidRoutingRules(details=errors)
    existing = RoutingRule.objects.for_tenant(tenant)
    before = [_rule_snapshot(rule) for rule in existing.order_by("priority", "pk")]
    existing.delete()
    created = RoutingRule.objects.bulk_create(
        [
            RoutingRule(
                tenant=tenant,
                name=rule.name,
                priority=rule.priority,
                branch_id=rule.branch_id,
                conditions=rule.conditions.as_json(),
                action=rule.action,
                target_branch_id=rule.target_branch_id,
                target_agent_id=rule.target_agent_id or "",
                is_active=rule.is_active,
            )
            for rule in rules
        ]
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="routing.rules_replaced",
        obj=tenant,
        changes={"before": before, "after": [_rule_snapshot(rule) for rule in created]},
    )
    return selectors.routing_rule_list(tenant=tenant)


# ------------------------------------------------------------------- Retell inbound webhook


@dataclass(frozen=True)
class InboundAnswer:
    """What Retell's inbound-call webhook answers: the agent and the variables it greets with.

    `override_agent_id` None leaves the agent configured on the number at Retell.
    """

    override_agent_id: str | None
    dynamic_variables: dict[str, str]
    tenant_id: int | None = None
    branch_id: int | None = None
    customer_id: int | None = None
    routing_decision: str = "default"

    def as_retell_response(self) -> dict[str, Any]:
        """The JSON body for Retell (integrations.md 1.5): all variable values are strings."""
        body: dict[str, Any] = {"dynamic_variables": self.dynamic_variables}
        if self.override_agent_id:
            body["override_agent_id"] = self.override_agent_id
        body["metadata"] = {
            "tenant_id": self.tenant_id,
            "branch_id": self.branch_id,
            "customer_id": self.customer_id,
            "routing_decision": self.routing_decision,
        }
        return {"call_inbound": body}


INBOUND_VARIABLES = (
    "company_name",
    "branch_name",
    "branch_address",
    "branch_phone",
    "opening_hours_today",
    "branch_open_now",
    "current_date",
    "current_time",
    "caller_number",
    "customer_known",
    "customer_name",
    "customer_language",
    "next_appointment",
    "next_appointment_confirmation_number",
    "routing_decision",
)


def _generic_answer(from_number: str, now: dt.datetime) -> InboundAnswer:
    variables = dict.fromkeys(INBOUND_VARIABLES, "")
    local = now.astimezone(zoneinfo.ZoneInfo(FALLBACK_ZONE))
    variables.update(
        current_date=german_date(local.date()),
        current_time=f"{local:%H:%M}",
        caller_number=from_number,
        customer_known="nein",
        customer_language="de",
        branch_open_now="nein",
        routing_decision="default",
    )
    return InboundAnswer(
        override_agent_id=settings.RETELL_DEFAULT_AGENT_ID or None, dynamic_variables=variables
    )


def inbound_call_answer(
    *, to_number: str, from_number: str, now: dt.datetime | None = None
) -> InboundAnswer:
    """Agent and greeting variables for a call ringing at `to_number`, as routing decides.

    The tenant comes from the dialled number (numbers are unique across tenants). The caller
    is looked up as a customer of that tenant by E.164 phone; their language steers the agent
    choice. An unknown or malformed number, an inactive tenant or a database failure give the
    default agent (RETELL_DEFAULT_AGENT_ID) with generic variables — never an error, because
    the call is ringing meanwhile. About eight queries.
    """
    now = now or timezone.now()
    caller = from_number or ""
    with contextlib.suppress(InvalidPhoneNumber):
        caller = normalize_phone(from_number)
    try:
        to_e164 = normalize_phone(to_number)
    except InvalidPhoneNumber:
        return _generic_answer(caller, now)
    try:
        dialled = selectors.phone_number_find(number=to_e164)
        if dialled is None or not dialled.tenant.is_active:
            return _generic_answer(caller, now)
        return _inbound_for_tenant(dialled, caller, now)
    except (DatabaseError, ApplicationError):
        logger.exception("inbound call routing for %s failed; default agent answers", to_e164)
        return _generic_answer(caller, now)


def _inbound_for_tenant(dialled: PhoneNumber, caller: str, now: dt.datetime) -> InboundAnswer:
    tenant = dialled.tenant
    customer = (
        Customer.objects.for_tenant(tenant).filter(phone=caller, erased_at__isnull=True).first()
        if caller.startswith("+")
        else None
    )
    language = customer.language if customer and customer.language else dialled.language
    ctx = _context(tenant, now)
    # The dialled number from the tenant's list carries the same branch; use it so rules and
    # agents compare equal rows.
    dialled = next((n for n in ctx.numbers if n.pk == dialled.pk), dialled)
    decision = _route(ctx, dialled, language or "de", None)
    branch = decision.branch
    variables = dict.fromkeys(INBOUND_VARIABLES, "")
    variables.update(
        company_name=tenant.name,
        caller_number=caller,
        customer_known="ja" if customer else "nein",
        customer_language=language_primary(language or "de"),
        routing_decision=decision.routing_decision,
    )
    if branch is not None:
        local = branch_local(branch, now)
        variables.update(
            branch_name=branch.name,
            branch_address=selectors.full_address(branch),
            branch_phone=branch.phone,
            opening_hours_today=opening_hours_today_de(branch, now),
            branch_open_now="ja" if branch_is_open(branch, now) else "nein",
            current_date=german_date(local.date()),
            current_time=f"{local:%H:%M}",
        )
    else:
        local = now.astimezone(selectors.tenant_zone(tenant))
        variables.update(current_date=german_date(local.date()), current_time=f"{local:%H:%M}")
    if customer is not None:
        variables["customer_name"] = customer.name
        upcoming = (
            Appointment.objects.for_tenant(tenant)
            .filter(customer=customer, status__in=ACTIVE_STATUSES, start_time__gte=now)
            .select_related("service", "branch")
            .order_by("start_time")
            .first()
        )
        if upcoming is not None:
            start = branch_local(upcoming.branch, upcoming.start_time)
            variables["next_appointment"] = (
                f"{german_datetime(start)}: {upcoming.service.name} in {upcoming.branch.name}"
            )
            variables["next_appointment_confirmation_number"] = upcoming.confirmation_number
    return InboundAnswer(
        override_agent_id=decision.agent.agent_id,
        dynamic_variables={key: str(value) for key, value in variables.items()},
        tenant_id=tenant.pk,
        branch_id=branch.pk if branch else None,
        customer_id=customer.pk if customer else None,
        routing_decision=decision.routing_decision,
    )
