"""Domain events: one row per state change, written in the change's transaction, then told
to the live channels after the commit and to the tenant's webhook endpoints through the outbox.

Names and payloads: docs/events.md. Why one table and not the outbox alone: docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from mcp_core import outbox
from mcp_core.models import DomainEvent, WebhookEndpoint
from mcp_core.queries import domain_event_insert

if TYPE_CHECKING:
    from tenants.models import Company

logger = logging.getLogger(__name__)

EVENT_VERSION = 1
EVENT_NAMES = frozenset(
    {
        "booking.created",
        "booking.updated",
        "booking.rescheduled",
        "booking.cancelled",
        "booking.confirmed",
        "booking.sync_failed",
        "call.started",
        "call.ended",
        "call.analyzed",
        "staff.status_changed",
        "queue.position_updated",
    }
)
WEBHOOK_TOPIC = "webhook.deliver"
CHANNEL_KINDS = ("branch", "customer", "call")
# The Channels message type a consumer's `domain_event` method receives.
LAYER_MESSAGE_TYPE = "domain.event"


def emit(
    *,
    tenant: Company,
    event: str,
    data: dict[str, Any],
    branch_id: int | None = None,
    customer_id: int | None = None,
    call_id: str = "",
) -> int:
    """Write the event inside the change's transaction and return its id; it reaches the
    live channels after the commit and each endpoint that asked for it through the outbox.
    Raises RuntimeError outside a transaction and ValueError for an unknown name."""
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown domain event {event!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events.emit must run inside the transaction of the change")
    occurred_at = timezone.now()
    fields: dict[str, Any] = {
        "event": event,
        "version": EVENT_VERSION,
        "branch_id": branch_id,
        "customer_id": customer_id,
        "call_id": call_id,
        "data": data,
        "occurred_at": occurred_at,
    }
    event_id = domain_event_insert(tenant_id=tenant.pk, **fields)
    for endpoint_id, wanted in _endpoints_of(tenant.pk):
        if "*" in wanted or event in wanted:
            outbox.enqueue(
                tenant=tenant,
                topic=WEBHOOK_TOPIC,
                payload={"event_id": event_id, "endpoint_id": endpoint_id},
                key=f"{WEBHOOK_TOPIC}:{endpoint_id}:{event_id}",
            )
    wire = wire_message(DomainEvent(pk=event_id, tenant_id=tenant.pk, **fields))
    transaction.on_commit(partial(publish, wire, channels_of(fields)), robust=True)
    return event_id


# Each tenant's active endpoints (id, events), read at most once per MCP_AUTH_CACHE_TTL per
# process: every booking would otherwise spend a query on an answer that is nearly always
# "none". A change in this process clears it; other processes follow within the TTL.
_endpoints: dict[int, tuple[float, list[tuple[int, list[str]]]]] = {}
_endpoints_lock = threading.Lock()


def forget_endpoints(**_: object) -> None:
    with _endpoints_lock:
        _endpoints.clear()


post_save.connect(forget_endpoints, sender=WebhookEndpoint, dispatch_uid="events-endpoint")
post_delete.connect(forget_endpoints, sender=WebhookEndpoint, dispatch_uid="events-endpoint-d")


def _endpoints_of(tenant_id: int) -> list[tuple[int, list[str]]]:
    cached = _endpoints.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    rows = WebhookEndpoint.objects.for_tenant(tenant_id).filter(active=True).order_by("pk")
    found = [(pk, list(events)) for pk, events in rows.values_list("pk", "events")]
    with _endpoints_lock:
        _endpoints[tenant_id] = (time.monotonic() + settings.MCP_AUTH_CACHE_TTL, found)
    return found


def channels_of(fields: dict[str, Any]) -> list[str]:
    """The live channels an event goes to."""
    named = {"branch": fields["branch_id"], "customer": fields["customer_id"]}
    named["call"] = fields["call_id"] or None
    return [f"{kind}.{value}" for kind, value in named.items() if value is not None]


def wire_message(row: DomainEvent) -> dict[str, Any]:
    """The event as a live channel sends it (docs/contract.md, live channels)."""
    occurred: dt.datetime = row.occurred_at
    return {
        "type": "event",
        "event": row.event,
        "version": row.version,
        "id": row.pk,
        "occurred_at": occurred.isoformat(),
        "tenant_id": row.tenant_id,
        "data": row.data,
    }


def group_name(channel: str) -> str:
    """The Channels group of a live channel (ids are global, so the name is unique)."""
    return f"events.{channel}"


def publish(wire: dict[str, Any], channels: list[str]) -> None:
    """Tell the live channels' subscribers; never fails the caller (a subscriber that missed
    the message finds it again by its cursor)."""
    layer = get_channel_layer()
    if layer is None or not channels:
        return
    try:
        async_to_sync(_send_all)(layer, wire, channels)
    except Exception:
        logger.warning("live event %s not published", wire["id"], exc_info=True)


async def _send_all(layer: Any, wire: dict[str, Any], channels: list[str]) -> None:
    for channel in channels:
        await layer.group_send(group_name(channel), {"type": LAYER_MESSAGE_TYPE, "event": wire})
