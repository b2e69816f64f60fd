"""Erasure erases: after a customer booked by phone, through the API and in Cal.com, received
SMS and was erased through customer.eraseCustomerData, a dump of the whole database holds none
of their name, phone number or e-mail address."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from bookings import notifications
from bookings.models import Appointment, Customer, SmsMessage
from integrations.models import CalcomAccount, CalcomEventType
from mcp_core.management.demo import seed_demo
from staff.models import TimeBlock
from tests.integrations.retell_helpers import TEST_KEY, call_object, event, function, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday
PHONE = "+4915790001234"  # the caller of the Retell helpers
NAME = "Zora Quellenfeld"
EMAIL = "zora.quellenfeld@example.de"
SECRET = "whsec_demo_tenant"


def _dump() -> str:
    db = connection.settings_dict
    result = subprocess.run(  # noqa: S603 — pg_dump of the test database
        [  # noqa: S607
            "pg_dump",
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def _survivors(dump: str) -> list[str]:
    needles = ["Quellenfeld", "Zora", "zora.quellenfeld", "15790001234", "0157 90001234"]
    return [
        line[:200]
        for line in dump.splitlines()
        if any(needle.lower() in line.lower() for needle in needles)
    ]


def _calcom_delivery(client) -> int:
    body = json.dumps(
        {
            "triggerEvent": "BOOKING_CREATED",
            "payload": {
                "type": "herrenschnitt",
                "title": f"Termin mit {NAME}",
                "startTime": "2026-11-26T09:00:00Z",
                "endTime": "2026-11-26T09:30:00Z",
                "uid": "uid_e1",
                "eventTypeId": 4711,
                "attendees": [{"name": NAME, "email": EMAIL, "phoneNumber": PHONE}],
                "responses": {"name": NAME, "email": EMAIL, "attendeePhoneNumber": PHONE},
            },
        }
    ).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/calcom",
        data=body,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=signature,
    )
    return response.status_code


def test_an_erased_customer_survives_in_no_table(client, settings):
    settings.RETELL_API_KEY = TEST_KEY
    notifications.sent_messages.clear()
    with time_machine.travel(NOW, tick=False):
        demo = seed_demo()
        tenant_id = demo["tenant_id"]
        auth = {"HTTP_AUTHORIZATION": f"Bearer {demo['api_key']}"}
        service = next(s for s in demo["services"] if s["name"] == "Herrenhaarschnitt")
        staff = next(s for s in demo["staff"] if s["branch_id"] == demo["branches"][0]["id"])
        CalcomAccount.objects.create(
            tenant_id=tenant_id, api_key="cal_live_demo", webhook_secret=SECRET
        )
        CalcomEventType.objects.create(
            tenant_id=tenant_id, service_id=service["id"], event_type_id=4711, staff_id=staff["id"]
        )

        call = call_object("call_e1", transcript=f"User: Hier ist {NAME}.")
        assert post(client, event("call_started", call)).status_code == 204
        booked = post(
            client,
            function(
                "book_appointment",
                {
                    "service": "Herrenschnitt",
                    "date": "morgen",
                    "time": "10:00",
                    "customer_name": NAME,
                },
                call,
            ),
        ).json()
        assert booked["data"]["booked"] is True, booked
        ended = call_object("call_e1", "ended", transcript=f"User: Hier ist {NAME}, {EMAIL}.")
        assert post(client, event("call_ended", ended)).status_code == 204
        api = client.post(
            "/api/v2/mcp/bookings",
            json.dumps(
                {
                    "service_id": service["id"],
                    "branch_id": demo["branches"][0]["id"],
                    "start_time": "2026-11-25T11:00:00",
                    "customer_phone": "0157 90001234",
                    "customer_name": NAME,
                    "customer_email": EMAIL,
                    "notes": f"{NAME} bringt ihren Hund mit, Rückruf {PHONE}",
                }
            ),
            content_type="application/json",
            **auth,
        )
        assert api.status_code == 201, api.content
        assert _calcom_delivery(client) == 200
        customer = Customer.objects.for_tenant(tenant_id).get(phone=PHONE)
        assert Appointment.objects.for_tenant(tenant_id).filter(customer=customer).count() == 2
        assert SmsMessage.objects.for_tenant(tenant_id).filter(to=PHONE).count() == 1
        assert (
            TimeBlock.objects.for_tenant(tenant_id).filter(reason="Cal.com: herrenschnitt").count()
            == 1
        )
        assert _survivors(_dump())  # the dump sees the customer before the erasure

        erased = client.post(
            "/api/v2/mcp/execute",
            json.dumps(
                {
                    "service": "customer",
                    "operation": "eraseCustomerData",
                    "params": {"customer_id": customer.pk},
                }
            ),
            content_type="application/json",
            **auth,
        )
        assert erased.status_code == 200, erased.content

    assert _survivors(_dump()) == []
