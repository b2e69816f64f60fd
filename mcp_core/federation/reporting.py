"""The Postgres upstream's access: a login role per tenant that reads only a reporting schema
of that tenant's rows (docs/architecture.md, "Federation")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction

from common.errors import ValidationFailed
from mcp_core.audit import audit_record
from mcp_core.queries import reporting_access_create, reporting_access_drop

if TYPE_CHECKING:
    from tenants.models import Company


@dataclass(frozen=True)
class ReportingAccess:
    role: str
    schema: str
    dsn: str  # without the password, which goes to the process's environment (PGPASSWORD)
    password: str = field(repr=False)


def _names(tenant: Company) -> tuple[str, str]:
    # Roles are per cluster: the database's name keeps two databases' tenants apart.
    database = str(connection.settings_dict["NAME"]).lower()
    prefix = "".join(c if c.isalnum() else "_" for c in database)[:40]
    return f"{prefix}_reporting_t{tenant.pk}", f"reporting_t{tenant.pk}"


def reporting_access_provision(*, tenant: Company, actor: str) -> ReportingAccess:
    """Create (or renew the password of) the tenant's reporting role and schema. Needs
    PostgreSQL and a database role allowed to create roles. Raises ValidationFailed."""
    if connection.vendor != "postgresql":
        raise ValidationFailed(
            "The reporting upstream needs PostgreSQL.", details={"database": [connection.vendor]}
        )
    role, schema = _names(tenant)
    password = secrets.token_urlsafe(24)
    with transaction.atomic():
        reporting_access_create(tenant_id=tenant.pk, role=role, schema=schema, password=password)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="upstream.reporting_access_provisioned",
            obj=tenant,
            changes={"role": role, "schema": schema},
        )
    db = connection.settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    dsn = f"postgresql://{role}@{host}:{port}/{db['NAME']}"
    return ReportingAccess(role=role, schema=schema, dsn=dsn, password=password)


def reporting_access_revoke(*, tenant: Company) -> None:
    role, schema = _names(tenant)
    if connection.vendor == "postgresql":
        reporting_access_drop(role=role, schema=schema)


def reporting_command(access: ReportingAccess) -> list[str]:
    return [f"{settings.MCP_UPSTREAM_BIN_DIR}/mcp-server-postgres", access.dsn]
