"""Roles and what they may do (docs/contract.md, roles).

Every operation names one permission; a key's role grants a fixed set of them.
"""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    STAFF = "staff", _("Staff")
    READONLY = "readonly", _("Read-only")


class Permission(StrEnum):
    ACCESS_MCP = "access-mcp"  # read anything of the own tenant
    CREATE_BOOKINGS = "create-bookings"
    CANCEL_BOOKINGS = "cancel-bookings"
    MANAGE_BOOKINGS = "manage-bookings"  # confirm, update, reschedule others' bookings
    MANAGE_CUSTOMERS = "manage-customers"
    MANAGE_STAFF = "manage-staff"
    MANAGE_BRANCHES = "manage-branches"
    MANAGE_ROUTING = "manage-routing"
    MANAGE_COMPANY = "manage-company"  # tenant profile and settings
    VIEW_INTEGRATIONS = "view-integrations"
    MANAGE_INTEGRATIONS = "manage-integrations"  # sync, charge, replay
    ERASE_PERSONAL_DATA = "erase-personal-data"


_READONLY = frozenset({Permission.ACCESS_MCP})
_STAFF = _READONLY | {
    Permission.CREATE_BOOKINGS,
    Permission.CANCEL_BOOKINGS,
    Permission.MANAGE_CUSTOMERS,
}
_MANAGER = _STAFF | {
    Permission.MANAGE_BOOKINGS,
    Permission.MANAGE_STAFF,
    Permission.MANAGE_BRANCHES,
    Permission.MANAGE_ROUTING,
    Permission.VIEW_INTEGRATIONS,
}
_OWNER = frozenset(Permission)

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.READONLY: _READONLY,
    Role.STAFF: frozenset(_STAFF),
    Role.MANAGER: frozenset(_MANAGER),
    Role.OWNER: _OWNER,
}


def role_allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
