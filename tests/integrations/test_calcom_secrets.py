"""Cal.com credentials are encrypted at rest, and each tenant's Cal.com webhooks are verified
with that tenant's own secret: a payload signed with tenant A's secret never touches tenant B."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from integrations.models import CalcomAccount, CalcomBusyBlock, WebhookEvent
from staff.models import TimeBlock
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    _fresh_calendar,
    _frozen_time,
    at,
    book,
    make_world,
    outbox,
)
from tests.integrations.conftest import WEBHOOK_SECRET, connect_calcom
from tests.integrations.test_calcom import post_webhook

pytestmark = pytest.mark.django_db

migration = importlib.import_module("integrations.migrations.0007_calcom_secrets_encrypted")


def _stored(account: CalcomAccount) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, webhook_secret FROM integrations_calcomaccount WHERE id = %s",
            [account.pk],
        )
        api_key, secret = cursor.fetchone()
    return api_key, secret


def test_the_api_key_and_the_webhook_secret_are_encrypted_at_rest(calcom):
    account = CalcomAccount.objects.for_tenant(calcom.world.tenant).get()

    api_key, secret = _stored(account)

    assert account.api_key == calcom.fake.api_key
    assert account.webhook_secret == WEBHOOK_SECRET
    assert calcom.fake.api_key not in api_key
    assert WEBHOOK_SECRET not in secret
    assert api_key.startswith("gAAAAA")
    assert secret.startswith("gAAAAA")


def test_the_migration_encrypts_a_key_stored_in_plain_text_and_gives_each_its_own_secret():
    first = CalcomAccount.objects.create(tenant=make_world().tenant, api_key="x")
    second = CalcomAccount.objects.create(tenant=make_world().tenant, api_key="y")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE integrations_calcomaccount SET api_key = 'cal_live_plain', "
            "webhook_secret = 'whsec_same'"
        )

    migration.encrypt_existing(apps, None)

    stored = [_stored(first), _stored(second)]
    assert all(not value.startswith(("cal_", "whsec")) for pair in stored for value in pair)
    reread = list(CalcomAccount.objects.all_tenants().order_by("pk"))
    assert [account.api_key for account in reread] == ["cal_live_plain", "cal_live_plain"]
    assert reread[0].webhook_secret != reread[1].webhook_secret
    assert all(account.webhook_secret.startswith("whsec_") for account in reread)


def test_a_payload_signed_with_one_tenants_secret_never_touches_another(calcom, client):
    mine = calcom.world
    theirs = make_world()
    their_account, _ = connect_calcom(theirs, calcom.fake, event_type_id=8)
    their_account.webhook_secret = "whsec_theirs"
    their_account.save()
    book(theirs, staff_id=theirs.anna.pk)
    their_booking = next(b for b in calcom.fake.active_bookings() if b.get("eventTypeId") == 8)
    direct = calcom.fake.make_booking(start=at("12:00"), event_type_id=8)

    forged = [
        calcom.fake.webhook("BOOKING_CANCELLED", their_booking, secret=WEBHOOK_SECRET),
        calcom.fake.webhook("BOOKING_CREATED", direct, secret=WEBHOOK_SECRET),
        calcom.fake.webhook("BOOKING_CANCELLED", their_booking, secret=""),
    ]
    for body, signature in forged:
        response = post_webhook(client, body, signature)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AUTHENTICATION_FAILED"

    their_appointment = Appointment.objects.for_tenant(theirs.tenant).get()
    assert their_appointment.status == AppointmentStatus.CONFIRMED
    assert TimeBlock.objects.for_tenant(theirs.tenant).count() == 0
    assert CalcomBusyBlock.objects.for_tenant(theirs.tenant).count() == 0
    assert WebhookEvent.objects.count() == 0

    body, signature = calcom.fake.webhook("BOOKING_CREATED", direct, secret="whsec_theirs")
    applied = post_webhook(client, body, signature)

    assert applied.status_code == 200
    assert applied.json()["action"] == "blocked"
    assert TimeBlock.objects.for_tenant(theirs.tenant).count() == 1
    assert TimeBlock.objects.for_tenant(mine.tenant).count() == 0


@pytest.fixture
def rotating(settings):
    """Keys are derived once per field; forget them so changed keys take effect (and again after
    the test, before the settings are restored and read anew)."""

    def forget() -> None:
        for name in ("api_key", "webhook_secret"):
            field = CalcomAccount._meta.get_field(name)
            field.__dict__.pop("keys", None)
            field.__dict__.pop("f", None)

    forget()
    yield forget
    forget()


def test_a_rotated_key_reads_old_tokens_and_reencrypt_secrets_moves_them(settings, rotating):
    tenant = make_world().tenant
    account = CalcomAccount.objects.create(tenant=tenant, api_key="cal_live_before")
    old_token = _stored(account)[0]
    out = StringIO()

    settings.SALT_KEY = ["the-new-key", *settings.FIELD_ENCRYPTION_KEYS]
    rotating()
    assert CalcomAccount.objects.for_tenant(tenant).get().api_key == "cal_live_before"
    call_command("reencrypt_secrets", stdout=out)
    settings.SALT_KEY = ["the-new-key"]
    rotating()

    assert out.getvalue() == "1 Cal.com account(s) encrypted with the current key.\n"
    assert _stored(account)[0] != old_token
    assert CalcomAccount.objects.for_tenant(tenant).get().api_key == "cal_live_before"
