"""Toolsets: which services' tools a client loads into its context.

A client names them in `/mcp?toolsets=booking,customer` or the `MCP-Toolsets` header (`all`
for every service); an OAuth token's scopes are its configuration; otherwise an assistant
gets the small default set. Only the list is narrowed: a tool outside it can still be called.
"""

from __future__ import annotations

from mcp_core.auth import Principal
from mcp_core.operations import registry

TOOLSETS_HEADER = "MCP-Toolsets"
TOOLSETS_PARAMETER = "toolsets"
ALL_TOOLSETS = "all"
# What an assistant needs to book, move and cancel for callers (a third of the full list).
DEFAULT_TOOLSETS = frozenset({"booking", "customer"})


class UnknownToolsets(ValueError):
    def __init__(self, unknown: list[str]) -> None:
        super().__init__(", ".join(unknown))
        self.unknown = unknown


def available_toolsets() -> list[str]:
    return sorted({op.service for op in registry})


def selected_toolsets(requested: str | None, principal: Principal) -> frozenset[str]:
    """Raises UnknownToolsets for a name that is no service."""
    if requested is None or not requested.strip():
        return principal.services if principal.services is not None else DEFAULT_TOOLSETS
    names = {name.strip() for name in requested.split(",") if name.strip()}
    if ALL_TOOLSETS in names:
        return frozenset(available_toolsets())
    unknown = sorted(names - set(available_toolsets()))
    if unknown:
        raise UnknownToolsets(unknown)
    return frozenset(names)
