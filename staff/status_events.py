"""`staff.status_changed`: a staff member's bookable time changed (schedule, absence, block)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp_core.events import emit

if TYPE_CHECKING:
    from tenants.models import Company


def emit_staff_status_changed(
    tenant: Company, *, staff_id: int, branch_id: int, change: str, **detail: Any
) -> None:
    """`change`: "schedule", "time_blocked" or "time_unblocked"; `detail` (times, kind) joins
    the payload. In the caller's transaction."""
    emit(
        tenant=tenant,
        event="staff.status_changed",
        data={"staff_id": staff_id, "branch_id": branch_id, "change": change, **detail},
        branch_id=branch_id,
    )
