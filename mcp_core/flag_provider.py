"""Our feature flags as an OpenFeature provider, the public way code reads a flag for a tenant:
`flag_value(name, tenant_id=…, plan=…)`, or any OpenFeature client with the tenant id as the
targeting key and `plan` as an attribute. Moving to Flagsmith or Unleash later means setting
their provider instead of this one (`mcp_core.apps`), not changing callers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from mcp_core.flags import flag_rule
from mcp_core.models import FlagState

DOMAIN = "askproai"


class FlagProvider(AbstractProvider):
    def get_metadata(self) -> Metadata:
        return Metadata(name="askproai-flags")

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        rule = flag_rule(flag_key)
        if rule is None:
            return FlagResolutionDetails(
                default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}", Reason.DEFAULT
            )
        tenant_id, plan = _tenant(evaluation_context)
        value = rule.enabled_for(tenant_id=tenant_id, plan=plan)
        if rule.killed or rule.state == FlagState.OFF:
            reason = Reason.DISABLED
        elif rule.state == FlagState.ON:
            reason = Reason.STATIC
        elif tenant_id in rule.tenant_ids or plan in rule.plans:
            reason = Reason.TARGETING_MATCH
        else:
            reason = Reason.SPLIT
        return FlagResolutionDetails(value, reason=reason, variant="on" if value else "off")

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return _mismatch(default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return _mismatch(default_value)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return _mismatch(default_value)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return _mismatch(default_value)


def flag_value(name: str, *, tenant_id: int | None, plan: str | None = None) -> bool:
    """Whether flag `name` is on for the tenant, through OpenFeature (off when unknown)."""
    context = EvaluationContext(
        targeting_key=str(tenant_id) if tenant_id is not None else None,
        attributes={"plan": plan} if plan else {},
    )
    return api.get_client(DOMAIN).get_boolean_value(name, False, context)


def install() -> None:
    """Make this the provider of the `askproai` domain (called once per process)."""
    api.set_provider(FlagProvider(), DOMAIN)


def _tenant(context: EvaluationContext | None) -> tuple[int | None, str | None]:
    if context is None or not context.targeting_key:
        return None, None
    try:
        tenant_id = int(context.targeting_key)
    except ValueError:
        return None, None
    plan = context.attributes.get("plan")
    return tenant_id, str(plan) if plan is not None else None


def _mismatch(default: Any) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        default, ErrorCode.TYPE_MISMATCH, "askproai flags are booleans", Reason.ERROR
    )
