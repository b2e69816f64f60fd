"""What every webhook front door shares: signature failures and bad bodies in the contract's
envelope, and applying a delivery at most once.

Each provider's view (Retell, Cal.com, Stripe, Twilio) verifies its own signature over the raw
body, then, inside one `transaction.atomic()`, calls `first_delivery` with the provider's id for
the delivery and applies the effect only when it answers True. A replay, or a second worker
racing on the same delivery, finds the row (the unique constraint decides the race) and changes
nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse

from common.errors import ApplicationError, AuthenticationFailed, ValidationFailed
from common.jsonbody import parse_json
from integrations.models import WebhookEvent
from mcp_core.middleware import correlation_id_of
from tenants.models import Company

# Keys under which providers send a person's data (Cal.com attendees and responses, Retell's
# numbers and transcripts, Stripe's customer details). The stored delivery is for tracing what
# a provider sent and for replay protection; it keeps no personal data, so an erased customer
# survives in none (docs/contract.md, erasure).
PERSONAL_KEYS = frozenset(
    {
        "attendee",
        "attendees",
        "responses",
        "userFieldsResponses",
        "organizer",
        "title",
        "description",
        "additionalNotes",
        "name",
        "email",
        "phone",
        "phoneNumber",
        "from_number",
        "to_number",
        "transcript",
        "transcript_object",
        "transcript_with_tool_calls",
        "call_analysis",
        "custom_analysis_data",
        "args",
        "customer_name",
        "customer_phone",
        "customer_email",
        "billing_details",
        "customer_details",
        "body",
        "Body",
        "From",
        "To",
    }
)
REMOVED = "[entfernt]"


def without_personal_data(value: Any) -> Any:
    """A copy of a delivery's JSON with the values under PERSONAL_KEYS replaced."""
    if isinstance(value, dict):
        return {
            key: (REMOVED if key in PERSONAL_KEYS else without_personal_data(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_personal_data(item) for item in value]
    return value


def first_delivery(
    provider: str,
    event_id: str,
    *,
    event_type: str = "",
    tenant: Company | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Record the delivery; True the first time, False when it was applied before.

    Call it inside the transaction that applies the delivery's effect."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("first_delivery must run inside the transaction of the effect")
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                provider=provider,
                event_id=event_id[:255],
                event_type=event_type[:100],
                tenant=tenant,
                payload=without_personal_data(payload or {}),
            )
    except IntegrityError:
        return False
    return True


def error_response(request: HttpRequest, error: ApplicationError) -> JsonResponse:
    return JsonResponse(error.envelope(correlation_id_of(request)), status=error.http_status)


def signature_failed(request: HttpRequest, provider: str) -> JsonResponse:
    """401 for a missing or wrong signature; the body was not looked at."""
    return error_response(
        request, AuthenticationFailed(f"The {provider} webhook signature is missing or invalid.")
    )


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The verified body as a JSON object; raises ValidationFailed for anything else."""
    data = parse_json(request.body)
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.")
    return data
