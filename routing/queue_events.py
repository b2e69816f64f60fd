"""`queue.position_updated`: when a call starts or ends at a branch, the calls beyond its
capacity (in the order they started) hold a new place in its queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_core.events import emit
from routing.enums import CallStatus
from routing.models import CallLog
from routing.selectors import ONGOING_STALE_AFTER, branch_capacity

if TYPE_CHECKING:
    import datetime as dt

    from tenants.models import Branch, Company

# A larger queue tells only its head: places further back change with every call anyway.
QUEUE_EVENTS_LIMIT = 50


def emit_queue_positions(tenant: Company, branch: Branch, now: dt.datetime) -> None:
    """In the caller's transaction: one event per queued call at `branch`."""
    capacity = branch_capacity(branch)
    ongoing = list(
        CallLog.objects.for_tenant(tenant)
        .filter(branch=branch, status=CallStatus.ONGOING, started_at__gte=now - ONGOING_STALE_AFTER)
        .order_by("started_at", "pk")
        .values_list("call_id", flat=True)[: capacity + QUEUE_EVENTS_LIMIT]
    )
    for index, call_id in enumerate(ongoing[capacity:], start=1):
        emit(
            tenant=tenant,
            event="queue.position_updated",
            data={"call_id": call_id, "branch_id": branch.pk, "position": index},
            branch_id=branch.pk,
            call_id=call_id,
        )
