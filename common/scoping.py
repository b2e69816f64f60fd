"""Tenant scoping that fails closed (docs/style.md).

Every tenant-owned model inherits `TenantOwnedModel`: a non-null `tenant` foreign key and a
manager whose `for_tenant()` refuses to run without a tenant, so no code path can return
every tenant's rows by forgetting the filter.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


class TenantMissingError(RuntimeError):
    """Raised when tenant-scoped rows are requested without a tenant."""


class TenantQuerySet(models.QuerySet[_M]):
    def for_tenant(self, tenant: models.Model | int | None) -> TenantQuerySet[_M]:
        if tenant is None:
            raise TenantMissingError(f"{self.model.__name__} rows requested without a tenant")
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        if tenant_id is None:
            raise TenantMissingError(f"{self.model.__name__} rows requested for an unsaved tenant")
        return self.filter(tenant_id=tenant_id)

    def all_tenants(self) -> TenantQuerySet[_M]:
        """Every tenant's rows: for the few readers that span tenants (beat sweeps, webhooks
        that find the tenant from the row, superuser screens). Each use says why."""
        return self.all()


class TenantOwnedModel(models.Model):
    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=True,
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
