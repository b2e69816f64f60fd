"""The upstream registry: register, remove, read (services and selectors in one small module).

A tenant sees its own upstreams and the global ones; a slug is unique across both, so a tool
name at /mcp always means one upstream.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import Conflict, NotFound, ValidationFailed
from mcp_core.audit import audit_record
from mcp_core.federation.naming import slug_validate
from mcp_core.models import Upstream, UpstreamStatus, UpstreamTransport
from mcp_core.observability import logger
from mcp_core.operations import registry as operations
from mcp_core.permissions import Role

if TYPE_CHECKING:
    from tenants.models import Company

ROLE_RANK: dict[str, int] = {Role.READONLY: 0, Role.STAFF: 1, Role.MANAGER: 2, Role.OWNER: 3}


def role_at_least(role: str, required: str) -> bool:
    return role in ROLE_RANK and ROLE_RANK[role] >= ROLE_RANK.get(required, len(ROLE_RANK))


def reserved_slugs() -> frozenset[str]:
    return frozenset(op.service for op in operations)


def credentials_of(upstream: Upstream) -> dict[str, str]:
    """The decrypted credentials: the stdio process's environment or the HTTP headers."""
    if not upstream.credentials:
        return {}
    loaded = json.loads(upstream.credentials)
    return {str(key): str(value) for key, value in loaded.items()}


def upstream_register(
    *,
    tenant: Company | None,
    actor: str,
    slug: str,
    command: list[str] | None = None,
    url: str = "",
    credentials: dict[str, str] | None = None,
    enabled_tools: list[str] | None = None,
    role_required: str = Role.READONLY,
) -> Upstream:
    """Register an upstream for `tenant` (None: global). Raises ValidationFailed (slug, no or
    both transports) and Conflict (slug taken by the tenant or a global upstream)."""
    upstream_validate(tenant=tenant, slug=slug, command=command, url=url, role=role_required)
    try:
        with transaction.atomic():
            upstream = Upstream.objects.create(
                tenant=tenant,
                slug=slug,
                transport=UpstreamTransport.STDIO if command else UpstreamTransport.HTTP,
                command=list(command or []),
                url=url,
                credentials=json.dumps(credentials or {}),
                enabled_tools=list(enabled_tools or []),
                role_required=role_required,
            )
            _audit(upstream, actor, "upstream.registered", {"slug": slug})
    except IntegrityError as exc:
        raise Conflict(f"Upstream slug '{slug}' is already registered.") from exc
    return upstream


def upstream_validate(
    *, tenant: Company | None, slug: str, command: list[str] | None, url: str, role: str
) -> None:
    """What registering would refuse (ValidationFailed, Conflict), without writing."""
    slug_validate(slug, reserved_slugs())
    if bool(command) == bool(url):
        raise ValidationFailed(
            "An upstream has either a stdio command or a URL.",
            details={"transport": ["Give exactly one of --stdio and --url."]},
        )
    if url and not url.startswith(("http://", "https://")):
        raise ValidationFailed("The URL must be http(s).", details={"url": ["Not http(s)."]})
    if role not in Role.values:
        raise ValidationFailed("Unknown role.", details={"role_required": list(Role.values)})
    taken = Upstream.objects.filter(slug=slug)
    if tenant is not None:
        taken = taken.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
    if taken.exists():
        raise Conflict(f"Upstream slug '{slug}' is already registered.", details={"slug": slug})


def upstream_update(
    *,
    upstream: Upstream,
    actor: str,
    enabled: bool,
    enabled_tools: list[str],
    role_required: str,
    credentials: dict[str, str] | None = None,
) -> Upstream:
    """Change what an upstream offers and to whom; `credentials` None keeps the stored ones.
    The slug and transport stay: a different server is removed and registered anew."""
    if role_required not in Role.values:
        raise ValidationFailed("Unknown role.", details={"role_required": list(Role.values)})
    with transaction.atomic():
        upstream.enabled = enabled
        upstream.enabled_tools = list(enabled_tools)
        upstream.role_required = role_required
        fields = ["enabled", "enabled_tools", "role_required", "updated_at"]
        if credentials is not None:
            upstream.credentials = json.dumps(credentials)
            fields.append("credentials")
        upstream.save(update_fields=fields)
        changes = {"enabled": enabled, "enabled_tools": list(enabled_tools), "role": role_required}
        _audit(
            upstream, actor, "upstream.updated", {**changes, "credentials": credentials is not None}
        )
    return upstream


def upstream_remove(*, tenant: Company | None, actor: str, slug: str) -> None:
    """Raises NotFound."""
    upstream = upstream_get(tenant=tenant, slug=slug, own_only=True)
    with transaction.atomic():
        _audit(upstream, actor, "upstream.removed", {"slug": slug})
        upstream.delete()


def upstream_get(*, tenant: Company | None, slug: str, own_only: bool = False) -> Upstream:
    """The tenant's upstream `slug`, else the global one (own_only: only the tenant's, or
    for tenant None only the global). Raises NotFound."""
    rows = Upstream.objects.filter(slug=slug)
    if tenant is None or own_only:
        rows = rows.filter(tenant=tenant)
    else:
        rows = rows.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
    found = rows.order_by("tenant_id").first()
    if found is None:
        raise NotFound(f"No upstream '{slug}'.", details={"slug": slug})
    return found


def upstream_list(*, tenant: Company | None) -> list[Upstream]:
    """The tenant's upstreams and the global ones; for None, every upstream (the operator)."""
    rows = Upstream.objects.select_related("tenant")
    if tenant is not None:
        rows = rows.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
    return list(rows.order_by("slug"))


def upstreams_offered(*, tenant: Company, role: str) -> list[Upstream]:
    """Upstreams whose tools this tenant's key may see: enabled, reachable, role enough."""
    rows = Upstream.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), enabled=True)
    rows = rows.exclude(status=UpstreamStatus.UNREACHABLE)
    return [row for row in rows.order_by("slug") if role_at_least(role, row.role_required)]


def upstream_tool_find(*, tenant: Company, name: str) -> tuple[Upstream, str] | None:
    """The enabled upstream and its tool that `<slug>_<tool>` names for this tenant, whatever
    its health and the caller's role (those answer as errors, not as an unknown tool)."""
    slug, separator, tool = name.partition("_")
    if not separator or not tool:
        return None
    rows = Upstream.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), slug=slug)
    for upstream in rows.filter(enabled=True):
        listed = any(entry.get("name") == tool for entry in upstream.tools)
        if listed and (not upstream.enabled_tools or tool in upstream.enabled_tools):
            return upstream, tool
    return None


def upstream_tools_store(upstream: Upstream, tools: list[dict[str, Any]]) -> None:
    upstream.tools = tools
    upstream.tools_refreshed_at = timezone.now()
    upstream.save(update_fields=["tools", "tools_refreshed_at", "updated_at"])


def upstream_check_record(upstream: Upstream, *, error: str | None, threshold: int) -> None:
    """One health check's outcome: a success makes the upstream healthy at once; `threshold`
    failures in a row make it unreachable (one slow answer does not take it offline)."""
    upstream.last_checked_at = timezone.now()
    if error is None:
        upstream.consecutive_failures = 0
        upstream.status = UpstreamStatus.HEALTHY
        upstream.last_error = ""
    else:
        upstream.consecutive_failures += 1
        upstream.last_error = error[:2000]
        if upstream.consecutive_failures >= threshold:
            upstream.status = UpstreamStatus.UNREACHABLE
    upstream.save(
        update_fields=[
            "last_checked_at",
            "consecutive_failures",
            "status",
            "last_error",
            "updated_at",
        ]
    )


def _audit(upstream: Upstream, actor: str, action: str, changes: dict[str, Any]) -> None:
    # The audit log is per tenant; a global upstream's changes go to the structured log.
    if upstream.tenant_id is None:
        logger.info(action, actor=actor, upstream=upstream.slug, scope="global")
        return
    audit_record(
        tenant=upstream.tenant_id, actor=actor, action=action, obj=upstream, changes=changes
    )
