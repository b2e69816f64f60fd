"""Removing a staff member's time block (blocks are made by `staff.services.staff_time_block`)."""

from __future__ import annotations

from django.db import transaction

from mcp_core.audit import audit_record
from staff.models import TimeBlock
from staff.status_events import emit_staff_status_changed
from tenants.models import Company


def staff_time_unblock(
    *, tenant: Company, actor: str, time_block_id: int, reference: dict[str, str] | None = None
) -> None:
    """Delete the tenant's time block `time_block_id`, freeing the staff member's time, with a
    `staff.time_unblocked` audit row naming the staff member and `reference` (who asked, e.g.
    {"calcom_uid": ...}). The delete bumps the schedule version (`staff.signals`).

    Raises TimeBlock.DoesNotExist for an unknown id or another tenant's block."""
    with transaction.atomic():
        time_block = TimeBlock.objects.for_tenant(tenant).get(pk=time_block_id)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="staff.time_unblocked",
            obj=time_block,
            changes={"staff_id": time_block.staff_id, **(reference or {})},
        )
        emit_staff_status_changed(
            tenant,
            staff_id=time_block.staff_id,
            branch_id=time_block.staff.branch_id,
            change="time_unblocked",
            start_time=time_block.start_time.isoformat(),
            end_time=time_block.end_time.isoformat(),
        )
        time_block.delete()
