"""Bump the tenant's schedule version when what a schedule is made of changes.

Readers cache working hours and a booking request's branch, service and staff member under the
version (`staff.schedule_version`). Every write to those (through a service, the admin or a
shell) bumps it here, so no worker reads a cached copy older than the write. Queryset
`.update()` and `bulk_create` bypass signals: code that changes these models in bulk must call
`schedule_version_bump` itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from staff.models import Service, Staff, StaffService, TimeBlock, WorkingHours
from staff.schedule_version import schedule_version_bump
from tenants.models import Branch


def _changed(sender: type, instance: Any, **kwargs: Any) -> None:
    tenant_id = getattr(instance, "tenant_id", None)
    if tenant_id is not None:
        schedule_version_bump(tenant_id=tenant_id)


def connect() -> None:
    for model in (Branch, Service, Staff, StaffService, WorkingHours, TimeBlock):
        uid = f"staff-schedule-version-{model.__name__}"
        post_save.connect(_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}-deleted")
    m2m_changed.connect(
        _changed, sender=Service.branches.through, dispatch_uid="staff-schedule-version-branches"
    )
