"""Tenant scoping that fails closed (docs/style.md).

Every tenant-owned model inherits `TenantOwnedModel`: a non-null `tenant` foreign key and a
manager whose `for_tenant()` refuses to run without a tenant, so no code path can return
every tenant's rows by forgetting the filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


class TenantMissingError(RuntimeError):
    """Raised when tenant-scoped rows are requested without a tenant."""


class TenantQuerySet(models.QuerySet[_M]):
    """Rows of tenant-owned models are read for one tenant (`for_tenant`) or, where a task
    really spans tenants, through the named `all_tenants()`; any other read, count, update or
    delete raises TenantMissingError instead of reaching every tenant's rows."""

    # The scope is marked on the SQL query, which every chained queryset copies with its
    # attributes, so chaining (`filter`, `order_by`, ...) carries it without a hook of ours.
    _SCOPED = "askproai_tenant_scoped"

    def for_tenant(self, tenant: models.Model | int | None) -> TenantQuerySet[_M]:
        if tenant is None:
            raise TenantMissingError(f"{self.model.__name__} rows requested without a tenant")
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        if tenant_id is None:
            raise TenantMissingError(f"{self.model.__name__} rows requested for an unsaved tenant")
        scoped = self.filter(tenant_id=tenant_id)
        setattr(scoped.query, self._SCOPED, True)
        return scoped

    def all_tenants(self) -> TenantQuerySet[_M]:
        """Every tenant's rows: for the few readers that span tenants (beat sweeps, webhooks
        that find the tenant from the row, superuser screens). Each use says why."""
        spanning = self.all()
        setattr(spanning.query, self._SCOPED, True)
        return spanning

    def _require_scope(self) -> None:
        if not getattr(self.query, self._SCOPED, False):
            raise TenantMissingError(
                f"{self.model.__name__} rows read without a tenant: "
                "use .for_tenant(tenant), or .all_tenants() where every tenant is meant"
            )

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def count(self) -> int:
        if self._result_cache is None:
            self._require_scope()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._require_scope()
        return super().exists()

    def iterator(self, chunk_size: int | None = None) -> Iterator[_M]:
        self._require_scope()
        return super().iterator(chunk_size=chunk_size)

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._require_scope()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._require_scope()
        return super().delete()


class TenantOwnedModel(models.Model):
    tenant = models.ForeignKey(
        "tenants.Company",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=True,
    )

    # Declared first, so it is Django's default manager: what the admin, model forms,
    # related managers and cascades use, each scoped by its own means (the admin's tenant
    # scoping, the parent row). Application code reads through `objects`, which fails closed.
    django_internal = models.Manager()
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
