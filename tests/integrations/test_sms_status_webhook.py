"""POST /webhooks/sms/status: Twilio's signed delivery reports move a recorded SMS forward,
once, never backwards; a bad signature changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from bookings.models import SmsMessage
from integrations.models import WebhookEvent
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

AUTH_TOKEN = "twilio-test-token"
PUBLIC = "https://askproai.example"
PATH = "/webhooks/sms/status"


@pytest.fixture(autouse=True)
def _twilio_settings(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def message() -> SmsMessage:
    return SmsMessage.objects.create(
        tenant=CompanyFactory(),
        kind="confirmation",
        to="+4915112345678",
        body="Termin bestätigt",
        provider="twilio",
        provider_sid="SM" + "a" * 32,
        status="queued",
    )


def report(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "From": "+4930123456789",
        "To": "+4915112345678",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post(params: dict[str, str], *, url: str = PUBLIC + PATH, signature: str | None = None):
    if signature is None:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return Client().post(PATH, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_bad_signature_gets_401_and_changes_nothing(message: SmsMessage) -> None:
    params = report(str(message.provider_sid), "delivered")
    wrong_token = RequestValidator("another-token").compute_signature(PUBLIC + PATH, params)
    for response in (
        post(params, signature=wrong_token),
        post(params, signature=""),
        # Signed for other parameters than those sent.
        post(
            params,
            signature=RequestValidator(AUTH_TOKEN).compute_signature(
                PUBLIC + PATH, {**params, "MessageStatus": "failed"}
            ),
        ),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"
    message.refresh_from_db()
    assert message.status == "queued"
    assert not WebhookEvent.objects.exists()


def test_the_public_url_is_what_counts_behind_a_proxy(message: SmsMessage) -> None:
    params = report(str(message.provider_sid), "sent")
    # Signed for the host we see (the proxy's upstream), not the one Twilio called: refused.
    assert post(params, url="http://testserver" + PATH).status_code == 401
    assert post(params).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_report_applies_once_and_a_replay_changes_nothing(message: SmsMessage) -> None:
    params = report(str(message.provider_sid), "delivered")
    first = post(params)
    assert first.status_code == 200
    assert first.json() == {"received": True, "applied": True}
    message.refresh_from_db()
    assert message.status == "delivered"
    updated_at = message.updated_at

    replay = post(params)
    assert replay.status_code == 200
    assert replay.json() == {"received": True, "applied": False, "reason": "replayed"}
    message.refresh_from_db()
    assert (message.status, message.updated_at) == ("delivered", updated_at)
    [event] = WebhookEvent.objects.all()
    assert (event.provider, event.tenant_id, event.event_type) == (
        "twilio",
        message.tenant_id,
        "message.delivered",
    )


def test_a_late_report_never_moves_the_status_backwards(message: SmsMessage) -> None:
    sid = str(message.provider_sid)
    assert post(report(sid, "delivered")).json()["applied"] is True
    late = post(report(sid, "sent"))
    assert late.json() == {"received": True, "applied": False, "reason": "stale"}
    message.refresh_from_db()
    assert message.status == "delivered"
    # `read` follows delivered.
    assert post(report(sid, "read")).json()["applied"] is True
    message.refresh_from_db()
    assert message.status == "read"


def test_a_failure_report_records_twilios_error_code(message: SmsMessage) -> None:
    sid = str(message.provider_sid)
    assert post(report(sid, "sent")).status_code == 200
    assert post(report(sid, "undelivered", ErrorCode="30003")).status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("undelivered", "30003")


def test_an_unknown_message_is_acknowledged_and_changes_nothing(message: SmsMessage) -> None:
    response = post(report("SM" + "f" * 32, "delivered"))
    assert response.status_code == 200
    assert response.json()["reason"] == "unknown_message"
    message.refresh_from_db()
    assert message.status == "queued"


def test_a_signed_report_without_a_known_status_is_a_400(message: SmsMessage) -> None:
    response = post(report(str(message.provider_sid), "exploded"))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "VALIDATION_FAILED"
    assert not WebhookEvent.objects.exists()


def test_without_an_auth_token_every_report_is_refused(message: SmsMessage, settings) -> None:
    params = report(str(message.provider_sid), "delivered")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + PATH, params)
    settings.TWILIO_AUTH_TOKEN = ""
    assert post(params, signature=signature).status_code == 401
    message.refresh_from_db()
    assert message.status == "queued"
