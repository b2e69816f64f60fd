from typing import Any

from django.db import models

from tenants.models import AuditLog, Company


def audit_record(
    *,
    tenant: Company,
    actor: str,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row; called by services inside their transaction."""
    return AuditLog.objects.create(
        tenant=tenant,
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=changes or {},
    )
