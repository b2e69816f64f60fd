"""Reads of the tenants app."""

from __future__ import annotations

from tenants.errors import TenantNotFound
from tenants.models import Company


def tenant_get(*, tenant_id: int) -> Company:
    """Raises TenantNotFound."""
    company = Company.objects.select_related("subscription").filter(pk=tenant_id).first()
    if company is None:
        raise TenantNotFound(details={"tenant_id": tenant_id})
    return company
