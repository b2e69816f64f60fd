"""What the console's live pages ("Heute", "Probleme") tell their script: the socket, the
channels to listen to and the last event the page already shows, so that events committed
between the render and the subscription are replayed rather than lost."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from mcp_core.models import DomainEvent
from tenants.models import Company

SOCKET_PATH = "/ws/v2/events"
POLL_SECONDS = 30  # while the socket is down (or refused)
# While live: only for what emits no event (a dead-lettered message, a failed SMS).
LIVE_POLL_SECONDS = 120
# The socket's limit per subscription (mcp_core.realtime.subscriptions.MAX_CHANNELS, a sibling
# layer the console does not import); the polling covers any branch beyond it.
MAX_CHANNELS = 100
# Event ids are taken at insert, not at commit: an older transaction may still commit an event
# below the newest id. Data read while the newest event is this young is not cached.
SETTLE_SECONDS = 5


@dataclass(frozen=True)
class Live:
    socket: str
    channels: list[str]
    after: int
    poll_seconds: int = POLL_SECONDS
    live_poll_seconds: int = LIVE_POLL_SECONDS


@dataclass(frozen=True)
class DataVersion:
    """The newest domain event of a branch (or tenant): what a cached view of its data is
    keyed by. `settled`: old enough that no earlier-numbered event can still commit."""

    event_id: int
    settled: bool


def data_version(
    *, tenant: Company, branch_id: int | None = None, now: dt.datetime | None = None
) -> DataVersion:
    """One index lookup (event_branch_idx, event_tenant_idx); event 0 when there is none."""
    events = DomainEvent.objects.for_tenant(tenant)
    if branch_id is not None:
        events = events.filter(branch_id=branch_id)
    newest = events.order_by("-pk").values_list("pk", "occurred_at").first()
    if newest is None:
        return DataVersion(event_id=0, settled=True)
    age = (now or timezone.now()) - newest[1]
    return DataVersion(event_id=newest[0], settled=age >= dt.timedelta(seconds=SETTLE_SECONDS))


def live_for(*, tenant: Company, branch_ids: list[int], after: int) -> Live:
    """The page's live settings. The socket names the tenant for a superuser's page (the
    consumer honours it for superusers only; an operator always hears their own tenant)."""
    return Live(
        socket=f"{SOCKET_PATH}?tenant={tenant.pk}",
        channels=[f"branch.{pk}" for pk in branch_ids[:MAX_CHANNELS]],
        after=after,
    )
