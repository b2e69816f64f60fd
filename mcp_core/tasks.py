"""Celery tasks of mcp_core: thin wrappers that call a function and return JSON-able ids.

The outbox's delivery tasks live beside the outbox (`mcp_core.outbox`), which sends them.
"""

from __future__ import annotations

from celery import shared_task

from mcp_core import outbox, saga_recovery
from mcp_core.federation import tasks as federation_tasks

# Importing outbox and the federation's tasks registers theirs.
__all__ = ["federation_tasks", "outbox", "recover_stale_sagas"]


@shared_task(name="mcp_core.tasks.recover_stale_sagas")
def recover_stale_sagas() -> list[str]:
    """Finish, roll forward or compensate stale saga runs (beat, every minute); the ids of the
    runs handled.

    No retries: a failed pass is repeated by the next beat, and a claimed run becomes stale
    again and is re-claimed."""
    return [str(run_id) for run_id in saga_recovery.recover_stale_sagas()]
