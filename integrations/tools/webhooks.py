"""integration.createWebhookEndpoint, integration.listWebhookEndpoints,
integration.deleteWebhookEndpoint (docs/contract.md): where a tenant's domain events are sent."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from integrations.outbound import services
from mcp_core.events import EVENT_NAMES
from mcp_core.models import WebhookEndpoint
from mcp_core.operations import CallContext, EmptyInput, OperationInput, OperationOutput, operation
from mcp_core.permissions import Permission


class WebhookEndpointOut(OperationOutput):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: dt.datetime

    @classmethod
    def from_model(cls, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
        return cls(
            id=endpoint.pk,
            url=endpoint.url,
            events=list(endpoint.events),
            description=endpoint.description,
            active=endpoint.active,
            created_at=endpoint.created_at,
        )


# What services.check_url takes, as the schema can say it (plain host names; a local http://
# receiver, allowed outside production, is left out of the published form).
HTTPS_URL = r"^https://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[^\s\u0000]*)?$"
EventName = Annotated[str, Field(json_schema_extra={"enum": sorted(EVENT_NAMES | {"*"})})]


class CreateWebhookEndpointInput(OperationInput):
    url: str = Field(
        max_length=500,
        description="The receiver, https://…",
        json_schema_extra={"pattern": HTTPS_URL},
    )
    events: list[EventName] = Field(
        min_length=1, max_length=20, description='Event names (docs/events.md), or ["*"].'
    )
    description: str = Field(default="", max_length=200)


class CreatedWebhookEndpoint(OperationOutput):
    endpoint: WebhookEndpointOut
    secret: str = Field(description="Signs every delivery (HMAC-SHA256); shown only now.")


class WebhookEndpointList(OperationOutput):
    endpoints: list[WebhookEndpointOut]


class WebhookEndpointIdInput(OperationInput):
    endpoint_id: int


class DeletedWebhookEndpoint(OperationOutput):
    endpoint_id: int
    deleted: bool


@operation(
    "integration.createWebhookEndpoint",
    input=CreateWebhookEndpointInput,
    output=CreatedWebhookEndpoint,
    permission=Permission.MANAGE_INTEGRATIONS,
    title="Create webhook endpoint",
    description=(
        "Send the named domain events to an HTTPS URL, each delivery a POST signed in the "
        "AskProAI-Signature header (t=<unix time>,v1=<HMAC-SHA256 of '<t>.<body>' with the "
        "secret>). The secret is answered only here; failed deliveries are retried with back-off, "
        "then dead-lettered."
    ),
    examples=({"url": "https://example.com/hooks/askproai", "events": ["booking.created"]},),
)
def create_webhook_endpoint(
    ctx: CallContext, args: CreateWebhookEndpointInput
) -> CreatedWebhookEndpoint:
    endpoint = services.webhook_endpoint_create(
        tenant=ctx.tenant,
        actor=ctx.actor,
        url=args.url,
        events=args.events,
        description=args.description,
    )
    return CreatedWebhookEndpoint(
        endpoint=WebhookEndpointOut.from_model(endpoint), secret=endpoint.secret
    )


@operation(
    "integration.listWebhookEndpoints",
    input=EmptyInput,
    output=WebhookEndpointList,
    permission=Permission.VIEW_INTEGRATIONS,
    read_only=True,
    title="List webhook endpoints",
    description="The company's webhook endpoints and their events (never the secrets).",
)
def list_webhook_endpoints(ctx: CallContext, args: EmptyInput) -> WebhookEndpointList:
    endpoints = services.webhook_endpoint_list(tenant=ctx.tenant)
    return WebhookEndpointList(endpoints=[WebhookEndpointOut.from_model(e) for e in endpoints])


@operation(
    "integration.deleteWebhookEndpoint",
    input=WebhookEndpointIdInput,
    output=DeletedWebhookEndpoint,
    permission=Permission.MANAGE_INTEGRATIONS,
    destructive=True,
    title="Delete webhook endpoint",
    description="Stop sending events to the endpoint; deliveries still queued are dropped.",
    examples=({"endpoint_id": 1},),
)
def delete_webhook_endpoint(
    ctx: CallContext, args: WebhookEndpointIdInput
) -> DeletedWebhookEndpoint:
    services.webhook_endpoint_delete(
        tenant=ctx.tenant, actor=ctx.actor, endpoint_id=args.endpoint_id
    )
    return DeletedWebhookEndpoint(endpoint_id=args.endpoint_id, deleted=True)
