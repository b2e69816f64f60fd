"""A tenant's outbound webhook endpoints: register (the secret is shown once), list, remove.
Deliveries are written by `mcp_core.events.emit` and sent by `mcp_core.webhooks_out`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from common.errors import NotFound, ValidationFailed
from mcp_core.audit import audit_record
from mcp_core.events import EVENT_NAMES
from mcp_core.models import WebhookEndpoint
from mcp_core.webhooks_out import new_secret

if TYPE_CHECKING:
    from tenants.models import Company

MAX_ENDPOINTS = 20
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host, parts = "", urlsplit("")
    if parts.scheme == "https" and host and not any(c.isspace() for c in url):
        return
    local_http = parts.scheme == "http" and host in _LOCAL_HOSTS
    if local_http and settings.WEBHOOKS_OUT_ALLOW_LOCAL_HTTP:
        return
    raise ValidationFailed(
        "The webhook URL must use HTTPS.", details={"url": ["An https:// URL with a host."]}
    )


def check_events(events: list[str]) -> list[str]:
    unknown = [name for name in events if name != "*" and name not in EVENT_NAMES]
    if not events or unknown:
        raise ValidationFailed(
            "Name the events to send.",
            details={"events": [f"Unknown: {', '.join(unknown)}" if unknown else "At least one."]},
        )
    return sorted(set(events))


@transaction.atomic
def webhook_endpoint_create(
    *, tenant: Company, actor: str, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """The new endpoint, with its secret (shown to the caller this once). Raises
    ValidationFailed for a URL that is not HTTPS, unknown event names or too many endpoints."""
    check_url(url)
    names = check_events(events)
    if WebhookEndpoint.objects.for_tenant(tenant).count() >= MAX_ENDPOINTS:
        raise ValidationFailed(
            "Too many webhook endpoints.", details={"url": [f"At most {MAX_ENDPOINTS}."]}
        )
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant, url=url, events=names, secret=new_secret(), description=description
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook_endpoint.created",
        obj=endpoint,
        changes={"url": url, "events": names},
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, tenant: Company, actor: str, endpoint_id: int) -> None:
    """Raises NotFound (also for another tenant's id). Pending deliveries are skipped."""
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", details={"endpoint_id": endpoint_id})
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook_endpoint.deleted",
        obj=endpoint,
        changes={"url": endpoint.url},
    )
    endpoint.delete()


def webhook_endpoint_list(*, tenant: Company) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.for_tenant(tenant).order_by("pk"))
