"""`manage.py mcp upstream add|list|check|remove [--json]` (docs/contract.md, federation).

Without `--tenant` an upstream is global (the operator's, as superuser); every change is the
operator's shell acting as `system:cli`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from common.errors import ValidationFailed
from mcp_core.breakers import get_breaker
from mcp_core.federation.calls import breaker_name
from mcp_core.federation.registry import (
    upstream_get,
    upstream_list,
    upstream_register,
    upstream_remove,
    upstream_validate,
)
from mcp_core.federation.reporting import reporting_access_provision, reporting_command
from mcp_core.federation.upkeep import upstream_check
from mcp_core.models import Upstream
from mcp_core.permissions import Role
from tenants import policy, selectors
from tenants.models import Company

ACTOR = "system:cli"


def add_parser(sub: Any) -> None:
    upstream = sub.add_parser("upstream", help="external MCP servers behind /mcp")
    actions = upstream.add_subparsers(dest="upstream_action", required=True)
    add = actions.add_parser("add", help="register an upstream, check it and list its tools")
    add.add_argument("slug")
    transport = add.add_mutually_exclusive_group(required=True)
    transport.add_argument("--stdio", help='the command and its arguments, "node server.js …"')
    transport.add_argument("--url", help="a Streamable HTTP endpoint")
    transport.add_argument(
        "--reporting",
        action="store_true",
        help="the Postgres server, as the tenant's read-only reporting role (needs --tenant)",
    )
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    add.add_argument("--tool", action="append", default=[], help="offer only these tools")
    add.add_argument("--role", default=Role.READONLY, choices=Role.values)
    for name, helptext in (("list", "every upstream"), ("check", "health check and tools")):
        parser = actions.add_parser(name, help=helptext)
        if name == "check":
            parser.add_argument("slug")
    actions.add_parser("remove", help="unregister an upstream").add_argument("slug")
    for parser in actions.choices.values():
        parser.add_argument("--tenant", type=int, help="tenant id; none: global")
        parser.add_argument("--json", action="store_true")


def run(options: dict[str, Any]) -> tuple[Any, str]:
    """(JSON answer, text answer). Raises ApplicationError."""
    action = options["upstream_action"]
    tenant = _tenant(options.get("tenant"))
    if action == "add":
        if tenant is not None:
            policy.feature_require(tenant, "federation")
        command = shlex.split(options["stdio"]) if options.get("stdio") else None
        credentials = _pairs(options.get("env") or [], "--env") | _pairs(
            options.get("header") or [], "--header"
        )
        if options.get("reporting"):
            if tenant is None:
                raise ValidationFailed(
                    "--reporting is per tenant.", details={"--tenant": ["Required."]}
                )
            upstream_validate(
                tenant=tenant, slug=options["slug"], command=["-"], url="", role=Role.READONLY
            )
            access = reporting_access_provision(tenant=tenant, actor=ACTOR)
            command = reporting_command(access)
            credentials["PGPASSWORD"] = access.password
        upstream = upstream_register(
            tenant=tenant,
            actor=ACTOR,
            slug=options["slug"],
            command=command,
            url=options.get("url") or "",
            credentials=credentials,
            enabled_tools=options.get("tool") or [],
            role_required=options.get("role") or Role.READONLY,
        )
        upstream_check(upstream)
        return _row(upstream), _line(upstream)
    if action == "list":
        rows = upstream_list(tenant=tenant)
        return [_row(row) for row in rows], "\n".join(_line(row) for row in rows)
    if action == "check":
        upstream = upstream_get(tenant=tenant, slug=options["slug"])
        upstream_check(upstream)
        return _row(upstream), _line(upstream)
    upstream_remove(tenant=tenant, actor=ACTOR, slug=options["slug"])
    return {"slug": options["slug"], "removed": True}, f"{options['slug']} removed"


def _tenant(tenant_id: int | None) -> Company | None:
    return None if tenant_id is None else selectors.tenant_get(tenant_id=tenant_id)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ValidationFailed(f"{flag} takes KEY=VALUE.", details={flag: [item]})
        pairs[key] = value
    return pairs


def _row(upstream: Upstream) -> dict[str, Any]:
    # Credentials stay out: only their names are shown.
    from_json = json.loads(upstream.credentials) if upstream.credentials else {}
    return {
        "id": upstream.pk,
        "slug": upstream.slug,
        "tenant_id": upstream.tenant_id,
        "transport": upstream.transport,
        "command": upstream.command,
        "url": upstream.url,
        "credential_names": sorted(from_json),
        "enabled": upstream.enabled,
        "role_required": upstream.role_required,
        "status": upstream.status,
        "consecutive_failures": upstream.consecutive_failures,
        "last_error": upstream.last_error,
        # This process's view of the upstream's breaker (shared through Redis when set).
        "circuit": get_breaker(breaker_name(upstream)).current_state,
        "last_checked_at": upstream.last_checked_at.isoformat()
        if upstream.last_checked_at
        else None,
        "tools": [f"{upstream.slug}_{tool['name']}" for tool in upstream.tools],
    }


def _line(upstream: Upstream) -> str:
    scope = "global" if upstream.tenant_id is None else f"tenant {upstream.tenant_id}"
    return (
        f"{upstream.slug:<20} {upstream.transport:<6} {scope:<12} {upstream.status:<12} "
        f"{len(upstream.tools)} tools {upstream.last_error[:60]}"
    )
