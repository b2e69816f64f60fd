"""Resources, prompts and completions read through the orchestrator, so a read as a resource
is the same call (tenant, role, token scopes, rate limit, metrics) as the tool."""

from __future__ import annotations

from typing import Any

from mcp_core.auth import Principal
from mcp_core.orchestrator import execute

RESOURCE_NOT_FOUND = -32002
INVALID_PARAMS = -32602


class McpCallError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def read(principal: Principal, name: str, args: dict[str, Any], correlation_id: str) -> Any:
    """The operation's output; raises McpCallError carrying the error envelope."""
    service, _, operation = name.partition(".")
    call = execute(principal, service, operation, args, correlation_id=correlation_id, source="mcp")
    if call.error is not None:
        envelope = call.error.envelope(call.correlation_id)
        code = RESOURCE_NOT_FOUND if call.error.http_status == 404 else INVALID_PARAMS
        raise McpCallError(code, call.error.message, envelope)
    return call.data or {}
