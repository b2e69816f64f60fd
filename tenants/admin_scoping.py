"""Django admin scoped to the operator's tenant, failing closed.

A superuser sees every tenant. A staff user bound to a tenant (OperatorProfile) sees, opens,
edits and chooses only that tenant's rows, and whatever they create belongs to that tenant.
A staff user bound to no tenant sees nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.http import HttpRequest

from common.replica import reporting_reads
from common.scoping import TenantQuerySet
from tenants.models import Company


def operator_tenant(request: HttpRequest) -> Company | None:
    """The tenant a non-superuser admin user is bound to, or None."""
    user = request.user
    if not user.is_authenticated:
        return None
    profile = getattr(user, "operator_profile", None)
    return profile.tenant if profile is not None else None


def is_superuser(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def actor_for(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _tenant_lookup(model: type[models.Model]) -> str | None:
    if model is Company:
        return "pk"
    try:
        model._meta.get_field("tenant")
    except Exception:
        return None
    return "tenant"


def scope_queryset(request: HttpRequest, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """The rows of `qs` the admin user may see: every tenant's for a superuser (the one screen
    meant to span tenants), their tenant's for an operator, none for a user bound to none."""
    lookup = _tenant_lookup(qs.model)
    if is_superuser(request):
        # all_tenants: a superuser's admin is the one screen meant to span every tenant.
        return qs.all_tenants() if isinstance(qs, TenantQuerySet) else qs
    if lookup is None:
        return qs
    tenant = operator_tenant(request)
    if tenant is None:
        return qs.none()
    if isinstance(qs, TenantQuerySet):
        return qs.for_tenant(tenant)
    return qs.filter(**{lookup: tenant.pk})


class TenantRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter by a related row (branch, staff, service) offers only the rows the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        ordering = self.field_admin_ordering(field, request, model_admin)
        rows = scope_queryset(request, field.related_model._default_manager.get_queryset())
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


def _scoped_filters(model: type[models.Model], filters: Any) -> list[Any]:
    scoped: list[Any] = []
    for item in filters:
        if isinstance(item, str):
            field = get_fields_from_path(model, item)[-1]
            if field.is_relation:
                item = (item, TenantRelatedFieldListFilter)
        scoped.append(item)
    return scoped


class TenantScopedMixin:
    """Shared by ModelAdmin and inlines: rows and foreign-key choices limited to the tenant."""

    model: type[models.Model]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope_queryset(request, super().get_queryset(request))  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_queryset(request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_queryset(request, field.queryset)
        return field

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])  # type: ignore[misc]
        if not is_superuser(request) and _tenant_lookup(self.model) == "tenant":
            exclude.append("tenant")
        return exclude


class TenantScopedAdmin(TenantScopedMixin, admin.ModelAdmin):
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A staff user bound to no tenant has no tenant to create a row for.
        if not is_superuser(request) and operator_tenant(request) is None:
            return False
        return super().has_add_permission(request)

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if is_superuser(request) and _tenant_lookup(self.model) == "tenant":
            filters.insert(0, "tenant")
        return _scoped_filters(self.model, filters)

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if is_superuser(request) and _tenant_lookup(self.model) == "tenant":
            columns.append("tenant")
        return columns

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        tenant = operator_tenant(request)
        if not is_superuser(request) and tenant is not None:
            obj.tenant = tenant
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Inline children belong to their parent's tenant.
        instances = formset.save(commit=False)
        parent_tenant_id = getattr(form.instance, "tenant_id", None)
        if self.model is Company:
            parent_tenant_id = form.instance.pk
        for instance in instances:
            if _tenant_lookup(type(instance)) == "tenant" and parent_tenant_id is not None:
                instance.tenant_id = parent_tenant_id
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    """A record nobody edits by hand (an audit trail, a log of what was sent or run): listed
    and opened, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """The list is a reporting read (the replica when one is configured): rendered here,
        inside it, because a TemplateResponse would run its queries after the view returns."""
        with reporting_reads():
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()
        return response


class TenantScopedInline(TenantScopedMixin):
    """Inline children take their parent's tenant, so the field is never shown."""

    extra = 0

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if _tenant_lookup(self.model) == "tenant" and "tenant" not in exclude:
            exclude.append("tenant")
        return exclude


class SuperuserOnlyMixin:
    """Only a superuser sees and opens these pages, whatever permissions a tenant's operator
    was granted: users, groups and operator bindings (they span tenants) and the technical
    records (saga runs, the outbox, webhook events, calendar busy blocks). Put it first in the
    bases of any admin meant for the people who run the platform, not for a salon; what the
    admin itself allows a superuser (a read-only log stays read-only) still holds."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_superuser(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]
