"""Health checks and tool-list refreshes (Celery beat, `manage.py mcp upstream check`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from mcp_types import Tool

from mcp_core.federation.naming import federated_name
from mcp_core.federation.registry import upstream_check_record, upstream_tools_store
from mcp_core.federation.sessions import UpstreamUnreachable, pool
from mcp_core.federation.targets import target_for
from mcp_core.models import Upstream
from mcp_core.observability import logger


@dataclass(frozen=True)
class CheckOutcome:
    upstream_id: int
    slug: str
    status: str
    tools: list[str]
    error: str


def tool_entry(tool: Tool) -> dict[str, Any]:
    """What /mcp passes through of an upstream tool: name, title, description, schemas,
    annotations."""
    entry = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        key: entry[key]
        for key in ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
        if key in entry
    }


def upstream_check(upstream: Upstream) -> CheckOutcome:
    """A real initialize and tools/list on a fresh session; records the outcome (one failure
    does not mark the upstream unreachable, one success brings it back) and, when it
    answered, its tools. Tools whose `<slug>_<tool>` name would be invalid are left out."""
    sessions = pool()
    timeout = float(settings.MCP_UPSTREAM_CHECK_TIMEOUT)
    error: str | None = None
    tools: list[Tool] = []
    try:
        tools = sessions.run(sessions.probe(target_for(upstream, None), timeout), timeout)
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except (UpstreamUnreachable, OSError) as exc:
        error = str(exc) or exc.__class__.__name__
    except Exception as exc:  # an upstream speaking something other than MCP
        error = f"{exc.__class__.__name__}: {exc}"
    if error is None:
        entries = [tool_entry(tool) for tool in tools]
        kept = [entry for entry in entries if federated_name(upstream.slug, entry["name"])]
        if len(kept) < len(entries):
            logger.warning("federation.tools_skipped", upstream=upstream.slug, reason="name")
        upstream_tools_store(upstream, kept)
    else:
        logger.warning("federation.check_failed", upstream=upstream.slug, error=error)
    upstream_check_record(upstream, error=error, threshold=settings.MCP_UPSTREAM_FAILURE_THRESHOLD)
    return CheckOutcome(
        upstream_id=upstream.pk,
        slug=upstream.slug,
        status=upstream.status,
        tools=[entry["name"] for entry in upstream.tools],
        error=upstream.last_error,
    )


def upstreams_check_all() -> list[CheckOutcome]:
    """Every enabled upstream, global and every tenant's (the beat task)."""
    return [upstream_check(upstream) for upstream in Upstream.objects.filter(enabled=True)]
