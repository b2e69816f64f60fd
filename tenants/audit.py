from typing import Any

from django.db import models

from mcp_core import rows
from tenants.models import AuditLog, Company


def audit_record(
    *,
    tenant: Company,
    actor: str,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
) -> None:
    """Write one audit row; called by services inside their transaction. (One row statement,
    not the ORM's `create`: every booking writes two of these.)"""
    rows.insert(
        AuditLog,
        tenant_id=tenant.pk,
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=changes or {},
    )
