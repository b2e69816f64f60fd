"""Which live channels a tenant may hear, and the events a reconnecting subscriber missed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q

from bookings.models import Customer
from common.errors import NotFound, ValidationFailed
from mcp_core.events import wire_message
from mcp_core.models import DomainEvent
from routing.models import CallLog
from tenants.models import Branch

if TYPE_CHECKING:
    from tenants.models import Company

CHANNEL_PATTERN = re.compile(r"^(branch|customer)\.([1-9][0-9]{0,17})$|^(call)\.([\w-]{1,100})$")
MAX_CHANNELS = 100


def parse_channels(raw: Any) -> list[tuple[str, str]]:
    """(kind, id) per channel name. Raises ValidationFailed for a malformed list."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_CHANNELS:
        raise ValidationFailed(
            "Name the channels to subscribe to.",
            details={"channels": [f"A list of 1 to {MAX_CHANNELS} channel names."]},
        )
    parsed: list[tuple[str, str]] = []
    for name in raw:
        match = CHANNEL_PATTERN.match(name) if isinstance(name, str) else None
        if match is None:
            raise ValidationFailed(
                "Unknown channel.",
                details={"channels": [f"{name!r}: use branch.<id>, customer.<id> or call.<id>."]},
            )
        kind, ident = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        parsed.append((kind, ident))
    return parsed


def require_owned(tenant: Company, channels: list[tuple[str, str]]) -> None:
    """Raises NotFound (as for any id of another tenant) unless every channel is the tenant's."""
    wanted: dict[str, set[str]] = {"branch": set(), "customer": set(), "call": set()}
    for kind, ident in channels:
        wanted[kind].add(ident)
    found = {
        "branch": {str(pk) for pk in _ids(Branch, tenant, "pk", wanted["branch"])},
        "customer": {str(pk) for pk in _ids(Customer, tenant, "pk", wanted["customer"])},
        "call": set(_ids(CallLog, tenant, "call_id", wanted["call"])),
    }
    missing = [f"{kind}.{ident}" for kind, ident in channels if ident not in found[kind]]
    if missing:
        raise NotFound("No such channel.", details={"channels": missing})


def _ids(model: Any, tenant: Company, field: str, values: set[str]) -> list[Any]:
    if not values:
        return []
    rows = model.objects.for_tenant(tenant).filter(**{f"{field}__in": values})
    return list(rows.values_list(field, flat=True))


def missed_events(
    tenant: Company, channels: list[tuple[str, str]], after: int
) -> list[dict[str, Any]]:
    """The channels' events with an id above `after`, oldest first, at most
    REALTIME_REPLAY_LIMIT (the newest of them when more were missed)."""
    match = Q()
    for kind, ident in channels:
        column = {"branch": "branch_id", "customer": "customer_id", "call": "call_id"}[kind]
        match |= Q(**{column: ident})
    rows = (
        DomainEvent.objects.for_tenant(tenant)
        .filter(match, pk__gt=after)
        .order_by("-pk")[: settings.REALTIME_REPLAY_LIMIT]
    )
    return [wire_message(row) for row in reversed(list(rows))]
