"""Which tenant and branch a Retell call belongs to: the dialled number (`to_number`, one of
our PhoneNumber rows), else the agent answering it. Never taken from anything the caller or
the LLM said."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from common.phone import InvalidPhoneNumber, normalize_phone
from routing.models import PhoneNumber
from tenants.models import Branch, Company


@dataclass(frozen=True)
class Line:
    number: PhoneNumber
    tenant: Company
    branch: Branch
    zone: ZoneInfo  # the branch's, read once for every date the call speaks about


def line_for(to_number: Any, agent_id: Any = None) -> Line | None:
    """The active line of an active tenant for the dialled number (or, without a usable one,
    the only line the agent answers); None when neither identifies one."""
    # all_tenants: the dialled number (or the agent) is how a call finds its tenant. The
    # subscription comes along: the orchestrator's rate limit reads the plan on every function.
    lines = (
        PhoneNumber.objects.all_tenants()
        .select_related("tenant__subscription", "branch")
        .filter(is_active=True, tenant__is_active=True)
    )
    found: PhoneNumber | None = None
    if isinstance(to_number, str) and to_number.strip():
        try:
            found = lines.filter(number=normalize_phone(to_number)).first()
        except InvalidPhoneNumber:
            found = None
    if found is None and isinstance(agent_id, str) and agent_id:
        candidates = list(lines.filter(retell_agent_id=agent_id)[:2])
        found = candidates[0] if len(candidates) == 1 else None
    if found is None:
        return None
    return Line(
        number=found,
        tenant=found.tenant,
        branch=found.branch,
        zone=ZoneInfo(found.branch.time_zone),
    )
