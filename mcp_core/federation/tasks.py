"""Celery beat tasks of the federation."""

from __future__ import annotations

from celery import shared_task

from mcp_core.federation.upkeep import upstreams_check_all


@shared_task(name="mcp_core.tasks.check_upstreams")
def check_upstreams() -> dict[str, str]:
    """Health check and tool-list refresh of every enabled upstream (beat, every minute);
    each one's status by id. No retries: the next beat is the retry."""
    return {str(outcome.upstream_id): outcome.status for outcome in upstreams_check_all()}
