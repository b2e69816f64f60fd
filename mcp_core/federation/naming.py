"""Names of federated tools: `<slug>_<tool>`, at most 64 characters (docs/contract.md)."""

from __future__ import annotations

import re

from common.errors import ValidationFailed

MAX_TOOL_NAME = 64
# No underscore in a slug: `<slug>_` then ends exactly where the slug does, so no slug's
# tools can be read as another slug's (or as one of our `<service>_<operation>` tools).
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# The characters MCP clients accept in a tool name (SEP-986); others are refused upstream.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def slug_validate(slug: str, reserved: frozenset[str]) -> None:
    """Raises ValidationFailed for a slug that is malformed or one of our service names."""
    if not SLUG_PATTERN.match(slug):
        raise ValidationFailed(
            f"Upstream slug '{slug}' is invalid.",
            details={"slug": ["Lower-case letters, digits and '-', 1–32, starting a letter."]},
        )
    if slug in reserved:
        raise ValidationFailed(
            f"Upstream slug '{slug}' is one of our service names.",
            details={"slug": [f"Reserved: {', '.join(sorted(reserved))}."]},
        )


def federated_name(slug: str, tool: str) -> str | None:
    """The tool's name at /mcp, or None when it would not be a valid MCP tool name."""
    name = f"{slug}_{tool}"
    return name if TOOL_NAME_PATTERN.match(name) else None
