"""Federated tools at /mcp: listed beside ours, called through the orchestrator's frame.

A call takes the same path as one of our operations (`orchestrator.run_guarded`: span, the
tenant's rate limit, metrics, log line), then the upstream's role, its breaker, the time
budget and an audit row. An upstream that fails, breaks or times out becomes an isError
result with the envelope; an upstream's own isError result passes through unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from mcp.shared.exceptions import MCPError

from common import deadline
from common.errors import ApplicationError, IntegrationError, PermissionDenied, ServiceUnavailable
from mcp_core.audit import Ref, audit_record
from mcp_core.auth import Principal
from mcp_core.breakers import call_with_breaker
from mcp_core.federation.naming import federated_name
from mcp_core.federation.registry import role_at_least, upstream_tool_find, upstreams_offered
from mcp_core.federation.sessions import UpstreamUnreachable, pool
from mcp_core.federation.targets import target_for
from mcp_core.models import Upstream
from mcp_core.orchestrator import run_guarded

# JSON-RPC "invalid params": the caller's arguments, not the upstream, were at fault.
INVALID_PARAMS = -32602
# The MCP revision before tool titles and output schemas.
OLDEST_VERSION = "2025-03-26"


def breaker_name(upstream: Upstream) -> str:
    return f"upstream:{upstream.slug}:{upstream.pk}"


def federated_tools(principal: Principal, version: str) -> list[dict[str, Any]]:
    """The upstream tools this key may see, as MCP tool definitions named `<slug>_<tool>`."""
    tools: list[dict[str, Any]] = []
    for upstream in upstreams_offered(tenant=principal.tenant, role=principal.role):
        for tool in upstream.tools:
            name = federated_name(upstream.slug, tool["name"])
            if name is None or (
                upstream.enabled_tools and tool["name"] not in upstream.enabled_tools
            ):
                continue
            definition = {**tool, "name": name}
            if version == OLDEST_VERSION:
                definition.pop("title", None)
                definition.pop("outputSchema", None)
            tools.append(definition)
    return tools


class UpstreamFailed(IntegrationError):
    """The upstream answered a JSON-RPC error."""

    def __init__(self, message: str, *, details: dict[str, Any], client_error: bool) -> None:
        super().__init__(message, details=details)
        # Bad arguments are the caller's fault: they do not count against the breaker.
        self.client_error = client_error


def federated_call(
    principal: Principal,
    name: str,
    arguments: dict[str, Any],
    *,
    correlation_id: str | None = None,
    source: str = "mcp",
    refusal: ApplicationError | None = None,
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The MCP result of tool `name` and the response headers; None when `name` is no
    federated tool of this tenant. `refusal`: the tenant policy's answer (its plan lacks
    `federation`), returned as the call's error before the upstream is asked."""
    found = upstream_tool_find(tenant=principal.tenant, name=name)
    if found is None:
        return None
    upstream, tool = found

    def run(call_correlation_id: str) -> dict[str, Any]:
        if refusal is not None:
            raise refusal
        if not role_at_least(principal.role, upstream.role_required):
            raise PermissionDenied(
                f"The role '{principal.role}' may not call {name}.",
                details={"required_role": upstream.role_required, "role": principal.role},
            )
        budget = settings.MCP_TIMEOUT
        outcome = "failed"
        try:
            with deadline.bounded(time.monotonic() + budget, budget):
                result = call_with_breaker(
                    breaker_name(upstream), _call, upstream, principal.tenant.pk, tool, arguments
                )
            outcome = "error_result" if result.get("isError") else "ok"
            return result
        finally:
            audit_record(
                tenant=principal.tenant,
                actor=principal.actor,
                action="upstream.tool_called",
                obj=Ref(Upstream, upstream.pk),
                changes={
                    "tool": tool,
                    "outcome": outcome,
                    "arguments": sorted(arguments),
                    "correlation_id": call_correlation_id,
                },
            )

    call = run_guarded(
        principal,
        f"{upstream.slug}.{tool}",
        run,
        limit_service=upstream.slug,
        correlation_id=correlation_id,
        source=source,
    )
    if call.error is None:
        return dict(call.data or {}), call.headers()
    envelope = call.error.envelope(call.correlation_id)
    return {
        "content": [{"type": "text", "text": json.dumps(envelope, ensure_ascii=False)}],
        "isError": True,
    }, call.headers()


def _call(
    upstream: Upstream, tenant_id: int, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    slug = upstream.slug
    timeout = deadline.cap(float(settings.MCP_TIMEOUT))
    sessions = pool()
    try:
        result = sessions.run(
            sessions.call_tool(target_for(upstream, tenant_id), tool, arguments, timeout), timeout
        )
    except TimeoutError:
        raise ServiceUnavailable(
            f"The upstream '{slug}' did not answer in time (timeout).",
            details={"upstream": slug, "timeout_seconds": round(timeout, 3)},
        ) from None
    except UpstreamUnreachable as exc:
        raise ServiceUnavailable(
            f"The upstream '{slug}' is unreachable.", details={"upstream": slug, "reason": str(exc)}
        ) from exc
    except MCPError as exc:
        raise UpstreamFailed(
            f"The upstream '{slug}' refused the call: {exc.error.message}",
            details={"upstream": slug, "code": exc.code},
            client_error=exc.code == INVALID_PARAMS,
        ) from exc
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)
