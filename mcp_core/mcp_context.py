"""MCP's list pagination and the context methods: resources, prompts and completion
(mcp_core/mcp_resources.py, mcp_core/mcp_prompts.py)."""

from __future__ import annotations

from typing import Any

from django.core import signing

from mcp_core.auth import Principal
from mcp_core.mcp_calls import INVALID_PARAMS, McpCallError
from mcp_core.mcp_prompts import complete, prompt_get, prompt_list
from mcp_core.mcp_resources import read_resource, resource_entries, resource_templates

PAGE_SIZE = 25
CURSOR_SALT = "askproai.mcp.tools-cursor"


def paginate(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """One page of a list and, when more follow, the opaque cursor to the next."""
    offset = 0
    cursor = params.get("cursor")
    if cursor is not None:
        try:
            offset = int(signing.loads(cursor, salt=CURSOR_SALT))
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise McpCallError(INVALID_PARAMS, "Invalid cursor.") from exc
    result: dict[str, Any] = {}
    if offset + PAGE_SIZE < len(items):
        result["nextCursor"] = signing.dumps(offset + PAGE_SIZE, salt=CURSOR_SALT)
    return items[offset : offset + PAGE_SIZE], result


CONTEXT_METHODS = frozenset(
    {
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    }
)


def context_result(
    method: str, params: dict[str, Any], principal: Principal, correlation_id: str
) -> dict[str, Any]:
    """Resources, prompts and completion (mcp_core/mcp_resources.py, mcp_prompts.py)."""
    if method == "resources/list":
        page, result = paginate(resource_entries(principal, correlation_id), params)
        return {"resources": page, **result}
    if method == "resources/templates/list":
        return {"resourceTemplates": resource_templates()}
    if method == "resources/read":
        return read_resource(principal, str(params.get("uri", "")), correlation_id)
    if method == "prompts/list":
        page, result = paginate(prompt_list(), params)
        return {"prompts": page, **result}
    if method == "prompts/get":
        return prompt_get(params.get("name"), params.get("arguments"))
    return complete(principal, params, correlation_id)
