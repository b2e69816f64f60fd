"""Helpers of the routing tests.

The fixtures (conftest.py): a tenant "Salon Sonnenschein" with Berlin Mitte and Hamburg
Altona (default hours Mon–Fri 09:00–18:00, Sat 09:00–14:00, Sunday closed, Europe/Berlin),
one German number each, and `now` fixed at Wednesday 2027-06-02 10:00 in Berlin (both open)
unless a test travels."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mcp_core.auth import Principal
from mcp_core.orchestrator import CallResult, execute_named
from tenants.enums import Role
from tenants.models import AuditLog, Company
from tests.factories import ApiKeyFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 6, 2, 10, 0, tzinfo=BERLIN)  # a Wednesday
SUNDAY = dt.datetime(2027, 6, 6, 11, 0, tzinfo=BERLIN)
BERLIN_NUMBER = "+493012345670"
HAMBURG_NUMBER = "+494012345670"


def principal_for(tenant: Company, role: str = Role.OWNER) -> Principal:
    key = ApiKeyFactory(tenant=tenant, role=role)
    return Principal(tenant=tenant, role=role, api_key_id=key.pk, key_prefix=key.prefix)


def call(principal: Principal, name: str, args: Any = None) -> CallResult:
    return execute_named(principal, name, {} if args is None else args)


def ok(principal: Principal, name: str, args: Any = None) -> dict[str, Any]:
    result = call(principal, name, args)
    assert result.error is None, (result.error.error_type.name, result.error.details)
    assert result.data is not None
    return result.data


def failed(principal: Principal, name: str, args: Any = None) -> tuple[str, dict[str, Any]]:
    result = call(principal, name, args)
    assert result.error is not None, result.data
    return result.error.error_type.name, result.error.details


def audit_actions(tenant: Company) -> list[str]:
    return [row.action for row in AuditLog.objects.for_tenant(tenant).order_by("pk")]
