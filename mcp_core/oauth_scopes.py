"""What an OAuth token's scope string grants: services, a role and the tenant.

A token's scope reads `booking customer role:staff tenant:7`: one scope per service it may
call, the role chosen at consent and the tenant it is bound to. The consent page writes the
role and tenant scopes; clients ask only for services.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_core.permissions import Role

ROLE_PREFIX = "role:"
TENANT_PREFIX = "tenant:"
# Lowest first: a role may grant any role at or below its own place.
ROLE_ORDER = (Role.READONLY, Role.STAFF, Role.MANAGER, Role.OWNER)


@dataclass(frozen=True)
class Grant:
    services: frozenset[str]
    role: str | None
    tenant_id: int | None


def roles_up_to(role: str) -> tuple[str, ...]:
    """The roles a user holding `role` may hand to a token."""
    if role not in ROLE_ORDER:
        return ()
    return tuple(str(r) for r in ROLE_ORDER[: ROLE_ORDER.index(Role(role)) + 1])


def lower_role(first: str, second: str) -> str | None:
    if first not in ROLE_ORDER or second not in ROLE_ORDER:
        return None
    return min(first, second, key=lambda r: ROLE_ORDER.index(Role(r)))


def parse_scope(scope: str) -> Grant:
    services: set[str] = set()
    role: str | None = None
    tenant_id: int | None = None
    for item in scope.split():
        if item.startswith(ROLE_PREFIX):
            role = item[len(ROLE_PREFIX) :]
        elif item.startswith(TENANT_PREFIX):
            value = item[len(TENANT_PREFIX) :]
            tenant_id = int(value) if value.isdigit() else None
        else:
            services.add(item)
    return Grant(services=frozenset(services), role=role, tenant_id=tenant_id)
