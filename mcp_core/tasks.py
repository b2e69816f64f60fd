"""Celery tasks of mcp_core: thin wrappers that call a function and return JSON-able ids."""

from __future__ import annotations

from celery import shared_task

from mcp_core import saga


@shared_task(name="mcp_core.tasks.recover_stale_sagas")
def recover_stale_sagas() -> list[str]:
    """Finish or compensate stale saga runs (beat, every minute); the ids of the runs handled.

    No retries: a failed pass is repeated by the next beat, and a claimed run becomes stale
    again and is re-claimed."""
    return [str(run_id) for run_id in saga.recover_stale_sagas()]


@shared_task(name="mcp_core.tasks.deliver_outbox_message")
def deliver_outbox_message(message_id: int) -> str:
    """Deliver one outbox message; its status afterwards ("" when it no longer exists).

    No Celery retries: back-off, jitter and dead-lettering are the outbox's own, kept on the
    row, so they survive a lost task."""
    from mcp_core import outbox

    delivery = outbox.deliver(message_id)
    return delivery.status if delivery is not None else ""


@shared_task(name="mcp_core.tasks.deliver_due_outbox_messages")
def deliver_due_outbox_messages() -> list[int]:
    """Beat: deliver pending outbox messages whose task was lost; the ids attempted."""
    from mcp_core import outbox

    return outbox.deliver_due()
