"""The `twilio` SMS backend: Twilio's Messages API through the official SDK.

Configured by TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM; without them every send
raises SmsNotConfigured (the message is recorded as `not_configured`, nothing crashes).
TWILIO_API_BASE points the SDK's `api` domain elsewhere (a local fake in tests; the SDK has no
base-URL argument, reference section 4.2). Every request is bounded by INTEGRATION_HTTP_TIMEOUT
and the caller (`notifications.send_sms`) runs it through the `twilio` circuit breaker.

Twilio reports delivery to `PUBLIC_BASE_URL` + `/webhooks/sms/status` when PUBLIC_BASE_URL is
set; without it messages are sent without a status callback.
"""

from __future__ import annotations

import logging

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bookings.enums import SmsStatus
from integrations.notifications import NotificationError, SmsNotConfigured

STATUS_CALLBACK_PATH = "/webhooks/sms/status"

# The SDK logs every request's headers and URL at INFO; our own log line says what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class TwilioRejected(NotificationError):
    """Twilio refused the message itself (bad number, blocked recipient, ...): a 4xx answer.

    The caller's fault, not an outage, so it does not count against the breaker."""

    client_error = True


class TwilioUnavailable(NotificationError):
    """Twilio answered 5xx or could not be reached in time: counts against the breaker."""


def is_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM)


def status_callback_url() -> str | None:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{STATUS_CALLBACK_PATH}" if base else None


def twilio_client() -> Client:
    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=settings.INTEGRATION_HTTP_TIMEOUT),
    )
    if settings.TWILIO_API_BASE:
        client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
    return client


class TwilioSms:
    name = "twilio"
    # Without a Messaging Service Twilio starts a message as queued (reference 4.1).
    initial_status: str = SmsStatus.QUEUED

    def send(self, to: str, body: str) -> str:
        """Create one message; returns its SID (SM...).

        Raises SmsNotConfigured, TwilioRejected (4xx) or TwilioUnavailable (5xx, network)."""
        if not is_configured():
            raise SmsNotConfigured("twilio is not configured (TWILIO_ACCOUNT_SID/AUTH_TOKEN/FROM)")
        callback = status_callback_url()
        try:
            if callback:
                message = twilio_client().messages.create(
                    to=to, from_=settings.TWILIO_FROM, body=body, status_callback=callback
                )
            else:
                message = twilio_client().messages.create(
                    to=to, from_=settings.TWILIO_FROM, body=body
                )
        except TwilioRestException as exc:
            code = str(exc.code or exc.status)
            error = TwilioRejected if 400 <= exc.status < 500 else TwilioUnavailable
            raise error(f"twilio answered {exc.status}: {exc.msg}", code=code) from exc
        except Exception as exc:  # requests' connection errors and time-outs
            raise TwilioUnavailable(f"twilio unreachable: {type(exc).__name__}: {exc}") from exc
        if message.sid is None:
            raise TwilioUnavailable("twilio answered without a message sid")
        return str(message.sid)
