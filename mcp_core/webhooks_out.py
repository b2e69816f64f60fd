"""Webhooks out: each domain event a tenant's endpoint asked for is POSTed to it, signed,
through the outbox (retries with back-off, dead letter, replay from the admin).

Signature (like Stripe's): header `AskProAI-Signature: t=<unix seconds>,v1=<hex>` where hex
is HMAC-SHA256 with the endpoint's secret over `<t>.<raw body>`. docs/events.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from django.conf import settings

from mcp_core import outbox
from mcp_core.events import WEBHOOK_TOPIC, wire_message
from mcp_core.models import DomainEvent, OutboxMessage, WebhookEndpoint

SIGNATURE_HEADER = "AskProAI-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = "AskProAI-Webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and is at most `tolerance` seconds old."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=settings.INTEGRATION_HTTP_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


@outbox.handler(WEBHOOK_TOPIC)
def deliver_webhook(message: OutboxMessage) -> dict[str, Any]:
    """POST the event to the endpoint; any answer but 2xx (or no answer) raises to retry."""
    endpoint = (
        WebhookEndpoint.objects.for_tenant(message.tenant_id)
        .filter(pk=message.payload["endpoint_id"])
        .first()
    )
    if endpoint is None or not endpoint.active:
        return {"skipped": "endpoint removed or inactive"}
    event = DomainEvent.objects.for_tenant(message.tenant_id).get(pk=message.payload["event_id"])
    body = json.dumps(wire_message(event), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(endpoint.secret, int(time.time()), body),
        "AskProAI-Event": event.event,
        "AskProAI-Delivery": str(message.pk),
    }
    with _client() as client:
        response = client.post(endpoint.url, content=body, headers=headers)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"endpoint answered {response.status_code}")
    return {"status": response.status_code}
