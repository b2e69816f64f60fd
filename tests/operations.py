"""Calling operations through the orchestrator as an API key would, for the service tests."""

from __future__ import annotations

from typing import Any

from mcp_core.auth import Principal
from mcp_core.orchestrator import CallResult, execute_named
from mcp_core.permissions import Role
from tenants.models import Company
from tests.factories import ApiKeyFactory


def principal_for(tenant: Company, role: str = Role.OWNER) -> Principal:
    """What authentication would produce for a new key of `tenant` with `role`. The principal
    holds `tenant` itself, so a test that changes the tenant's settings is seen by the calls."""
    key = ApiKeyFactory(tenant=tenant, role=role)
    return Principal(tenant=tenant, role=role, api_key_id=key.pk, key_prefix=key.prefix)


def call(principal: Principal, name: str, args: Any = None, source: str = "mcp") -> CallResult:
    return execute_named(principal, name, {} if args is None else args, source=source)


def ok(principal: Principal, name: str, args: Any = None, source: str = "mcp") -> dict[str, Any]:
    """The operation's data; fails the test with the error's type and details otherwise."""
    result = call(principal, name, args, source)
    assert result.error is None, (result.error.error_type.name, result.error.details)
    assert result.data is not None
    return result.data


def failed(
    principal: Principal, name: str, args: Any = None, source: str = "mcp"
) -> tuple[str, dict[str, Any]]:
    """The error's type and details; fails the test when the operation succeeded."""
    result = call(principal, name, args, source)
    assert result.error is not None, result.data
    return result.error.error_type.name, result.error.details
