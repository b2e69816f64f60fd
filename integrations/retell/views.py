"""Retell's front doors (docs/contract.md), no API key, each request signed by Retell:

- `POST /webhooks/retell`: call_inbound (answered with the agent to use), call_started,
  call_ended, call_analyzed (204; unknown events too);
- `POST /webhooks/retell/functions`: custom functions mid-call (200 `{result, data}`).

A missing or wrong signature is 401 before the body is read. The tenant is the dialled
number's (never from anything the caller or the LLM could say).
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.errors import ApplicationError, ServiceUnavailable, ValidationFailed
from integrations.retell import functions, inbound
from integrations.retell.events import CALL_EVENTS
from integrations.retell.lines import line_for
from integrations.retell.signature import META_KEY, signature_valid
from integrations.webhooks import error_response, json_body, signature_failed
from mcp_core.auth import Principal
from mcp_core.middleware import correlation_id_of
from mcp_core.observability import logger
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from mcp_core.ratelimit import phone_line_budget

OPERATION = "integration.processRetellWebhook"


def _principal(line: Any) -> Principal:
    # The delivery is as trustworthy as Retell's signing key, an account secret: it may do
    # what integration operations need (MANAGE_INTEGRATIONS), for the dialled number's tenant.
    return Principal.system(line.tenant, "retell", Role.OWNER)


@csrf_exempt
@require_POST
@phone_line_budget()
def retell_webhook(request: HttpRequest) -> HttpResponse:
    body = _signed_body(request)
    if isinstance(body, HttpResponse):
        return body
    event = body.get("event")
    if event == "call_inbound":
        return _inbound(request, body)
    try:
        return _call_event(request, body, event)
    except DatabaseError:
        # Not recorded: the error answer makes Retell retry the delivery later.
        logger.warning("retell.database_unavailable", retell_event=str(event)[:50])
        return error_response(
            request, ServiceUnavailable("The database is unavailable; try again shortly.")
        )


def _call_event(request: HttpRequest, body: dict[str, Any], event: Any) -> HttpResponse:
    if event not in CALL_EVENTS:
        logger.info("retell.event_ignored", retell_event=str(event)[:50])
        return HttpResponse(status=204)
    call = body.get("call")
    if not isinstance(call, dict) or not isinstance(call.get("call_id"), str):
        return error_response(
            request,
            ValidationFailed("The event has no call object.", details={"call": ["Required."]}),
        )
    line = line_for(call.get("to_number"), call.get("agent_id"))
    if line is None:
        # Not one of our numbers (a test call, a number since removed): nothing to record,
        # and a retry would not change that, so it is acknowledged and logged.
        logger.warning(
            "retell.unknown_line", to_number=call.get("to_number"), call_id=call.get("call_id")
        )
        return HttpResponse(status=204)
    result = execute_named(
        _principal(line),
        OPERATION,
        {"event": event, "call": call},
        source="webhook",
        correlation_id=correlation_id_of(request),
    )
    if result.error is not None:
        # A 4xx/5xx makes Retell retry (up to 3 times); the delivery was not recorded, so the
        # retry applies it.
        return error_response(request, result.error)
    return HttpResponse(status=204)


def _inbound(request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
    data = body.get("call_inbound")
    data = data if isinstance(data, dict) else {}
    to_number = str(data.get("to_number") or "")
    from_number = str(data.get("from_number") or "")
    try:
        line = line_for(to_number, data.get("agent_id"))
    except DatabaseError:
        line = None  # routing's own answer copes with the database being away
    answer: dict[str, Any] | None = None
    if line is not None:
        result = execute_named(
            _principal(line),
            OPERATION,
            {"event": "call_inbound", "call_inbound": data},
            source="webhook",
            correlation_id=correlation_id_of(request),
        )
        if result.error is None and result.data is not None:
            answer = result.data.get("call_inbound")
        else:
            logger.warning("retell.inbound_failed", to_number=to_number)
    if answer is None:
        answer = inbound.safe_answer(to_number=to_number, from_number=from_number)
    return JsonResponse({"call_inbound": answer})


@csrf_exempt
@require_POST
@phone_line_budget()
def retell_functions(request: HttpRequest) -> HttpResponse:
    body = _signed_body(request)
    if isinstance(body, HttpResponse):
        return body
    return JsonResponse(functions.answer(body).as_json())


def _signed_body(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """The JSON object of a request Retell signed, or the response refusing it (401 for the
    signature, before the body is read; the envelope for a body that is no JSON object)."""
    if not signature_valid(request.body, request.META.get(META_KEY)):
        return signature_failed(request, "Retell")
    try:
        return json_body(request)
    except ApplicationError as exc:
        return error_response(request, exc)
