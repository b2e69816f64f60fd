"""The audit trail: one row per state change, written by services inside their transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

from mcp_core.queries import audit_row_insert

if TYPE_CHECKING:
    from tenants.models import Company


@dataclass(frozen=True)
class Ref:
    """A row named by model and key, for when only its id is at hand: building a model
    instance just to name it costs more than writing the audit row."""

    model: type[models.Model]
    pk: Any


def audit_record(
    *,
    tenant: Company | int,
    actor: str,
    action: str,
    obj: models.Model | Ref,
    changes: dict[str, Any] | None = None,
) -> None:
    """Write one audit row; called by services inside their transaction. (One row statement,
    not the ORM's `create`: every booking writes two of these.)"""
    model = obj.model if isinstance(obj, Ref) else type(obj)
    audit_row_insert(
        tenant_id=tenant if isinstance(tenant, int) else tenant.pk,
        actor=actor,
        action=action,
        object_type=model._meta.label_lower,
        object_id=str(obj.pk),
        changes=changes or {},
    )
