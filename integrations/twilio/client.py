"""Twilio's REST client through the official SDK, configured from settings.

TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM configure it (`is_configured`).
TWILIO_API_BASE points the SDK's `api` domain elsewhere (a local fake in tests; the SDK has no
base-URL argument, reference section 4.2). Every request is bounded by INTEGRATION_HTTP_TIMEOUT.

Twilio reports delivery to `PUBLIC_BASE_URL` + `/webhooks/sms/status` when PUBLIC_BASE_URL is
set (`status_callback_url`); without it messages are sent without a status callback.
"""

from __future__ import annotations

import logging

from django.conf import settings
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from common import deadline

STATUS_CALLBACK_PATH = "/webhooks/sms/status"

# The SDK logs every request's headers and URL at INFO; our own log line says what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def is_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM)


def status_callback_url() -> str | None:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{STATUS_CALLBACK_PATH}" if base else None


def twilio_client() -> Client:
    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=deadline.cap(settings.INTEGRATION_HTTP_TIMEOUT)),
    )
    if settings.TWILIO_API_BASE:
        client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
    return client
