"""Toolsets: which services' tools a client loads into its context.

A client names them in `/mcp?toolsets=booking,customer` or the `MCP-Toolsets` header (`all`
for every service); without either, an OAuth token's scopes or an API key's configured toolsets
choose, else an assistant gets the small default set. Only the list is narrowed: a tool outside
it can still be called.
"""

from __future__ import annotations

from mcp_core.auth import Principal
from mcp_core.operations import ALL_TOOLSETS, registry

TOOLSETS_HEADER = "MCP-Toolsets"
TOOLSETS_PARAMETER = "toolsets"
# What an assistant needs to book, move and cancel for callers (a third of the full list).
DEFAULT_TOOLSETS = frozenset({"booking", "customer"})


class UnknownToolsets(ValueError):
    def __init__(self, unknown: list[str]) -> None:
        super().__init__(", ".join(unknown))
        self.unknown = unknown


def available_toolsets() -> list[str]:
    return registry.services()


def selected_toolsets(requested: str | None, principal: Principal) -> frozenset[str]:
    """Raises UnknownToolsets for a requested name that is no service."""
    if requested is not None and requested.strip():
        names = {name.strip() for name in requested.split(",") if name.strip()}
        unknown = sorted(names - {*available_toolsets(), ALL_TOOLSETS})
        if unknown:
            raise UnknownToolsets(unknown)
        return _expanded(names)
    if principal.services is not None:
        return principal.services
    if principal.toolsets:
        # Checked when the key was configured; a service removed since is skipped, not an error.
        return _expanded(principal.toolsets) & frozenset(available_toolsets())
    return DEFAULT_TOOLSETS


def _expanded(names: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(available_toolsets()) if ALL_TOOLSETS in names else frozenset(names)
