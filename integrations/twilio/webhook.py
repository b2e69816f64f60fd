"""`POST /webhooks/sms/status`: Twilio's delivery reports for the messages we sent.

Verified with the SDK's RequestValidator over the URL Twilio called and every form parameter
(Twilio adds parameters without notice). Behind a proxy the URL we see is not the one Twilio
signed, so PUBLIC_BASE_URL (as Twilio sees us) is used when set. The tenant is the one the
message was sent for, found by its SID; an unknown SID is acknowledged and changes nothing.

Twilio sends reports out of order (sent after delivered), so a status only ever moves forward
(`bookings.notifications.sms.sms_status_apply`, the owner of the SMS records); the same report
delivered again is recognised by `first_delivery` and changes nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from bookings.notifications.sms import (
    REPORTED_STATUSES,
    sms_message_for_report,
    sms_status_apply,
)
from common.errors import ValidationFailed
from integrations.models import WebhookProvider
from integrations.webhooks import error_response, first_delivery, signature_failed

logger = logging.getLogger("askproai.webhooks.twilio")


def public_url(request: HttpRequest) -> str:
    """The URL the provider called, as it saw it: PUBLIC_BASE_URL + path and query when set."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if base:
        return base + request.get_full_path()
    return request.build_absolute_uri()


@csrf_exempt
@require_POST
def sms_status_webhook(request: HttpRequest) -> JsonResponse:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not token or not signature:
        return signature_failed(request, "Twilio")
    if not RequestValidator(token).validate(public_url(request), request.POST, signature):
        return signature_failed(request, "Twilio")

    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid") or ""
    status = request.POST.get("MessageStatus") or request.POST.get("SmsStatus") or ""
    error_code = request.POST.get("ErrorCode", "")
    if not sid or status not in REPORTED_STATUSES:
        return error_response(
            request,
            ValidationFailed(
                "The status report needs MessageSid and a known MessageStatus.",
                details={"MessageStatus": [f"Got {status!r}."]} if sid else {"MessageSid": []},
            ),
        )
    with transaction.atomic():
        message = sms_message_for_report(provider="twilio", provider_sid=sid)
        first = first_delivery(
            WebhookProvider.TWILIO,
            f"{sid}:{status}:{error_code}",
            event_type=f"message.{status}",
            tenant=message.tenant if message else None,
            payload={"MessageSid": sid, "MessageStatus": status, "ErrorCode": error_code},
        )
        if not first:
            return JsonResponse({"received": True, "applied": False, "reason": "replayed"})
        if message is None:
            logger.warning("twilio status report for unknown message %s", sid)
            return JsonResponse({"received": True, "applied": False, "reason": "unknown_message"})
        applied = sms_status_apply(message=message, status=status, error_code=error_code)
    return JsonResponse(
        {"received": True, "applied": applied, **({} if applied else {"reason": "stale"})}
    )
