"""`SMS_BACKEND=twilio`: the bookings app's SMS port (`bookings.notifications.sms.SmsBackend`)
on Twilio's Messages API.

Without TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM every send raises
SmsNotConfigured (the message is recorded as `not_configured`, nothing crashes). The caller
(`bookings.notifications.sms.send_sms`) runs each send through the `twilio` circuit breaker.
"""

from __future__ import annotations

from django.conf import settings
from twilio.base.exceptions import TwilioRestException

from bookings.enums import SmsStatus
from bookings.notifications.sms import NotificationError, SmsNotConfigured
from integrations.twilio.client import is_configured, status_callback_url, twilio_client


class TwilioRejected(NotificationError):
    """Twilio refused the message itself (bad number, blocked recipient, ...): a 4xx answer.

    The caller's fault, not an outage, so it does not count against the breaker."""

    client_error = True


class TwilioUnavailable(NotificationError):
    """Twilio answered 5xx or could not be reached in time: counts against the breaker."""


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
