"""The booking REST routes (docs/contract.md): status codes, envelope, tenant isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bookings.enums import AppointmentStatus
from bookings.models import Appointment
from tests.bookings.test_booking_service import (  # noqa: F401 — autouse fixtures
    MONDAY,
    World,
    _fresh_calendar,
    _frozen_time,
    at,
    booking_args,
    existing,
    make_world,
    outbox,
)
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v2/mcp"


class Api:
    """A REST client holding one tenant's Bearer key."""

    def __init__(self, client, world: World, role: str = "owner") -> None:
        _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role=role)
        self.client, self.world = client, world
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, path: str, params: dict[str, Any] | None = None):
        return self.client.get(f"{BASE}/{path}", params or {}, **self.auth)

    def post(self, path: str, body: Any = None):
        return self.client.post(
            f"{BASE}/{path}", json.dumps(body or {}), content_type="application/json", **self.auth
        )

    def put(self, path: str, body: Any):
        return self.client.put(
            f"{BASE}/{path}", json.dumps(body), content_type="application/json", **self.auth
        )


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def api(client, world) -> Api:
    return Api(client, world)


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["type"]


def test_post_bookings_creates_one_and_answers_201(api, world):
    response = api.post("bookings", booking_args(world))

    assert response.status_code == 201
    body = response.json()
    appointment = Appointment.objects.all_tenants().get()
    assert body["appointment"]["id"] == appointment.pk
    assert body["appointment"]["start_time"] == "2027-03-08T10:00:00+01:00"
    assert body["confirmation_number"] == appointment.confirmation_number
    assert body["notifications_sent"] == ["sms"]
    assert appointment.source == "api"
    assert response.headers["X-Correlation-ID"]
    assert response.headers["X-RateLimit-Remaining"]


def test_second_booking_of_the_slot_is_409_with_the_next_free_slots(api, world):
    assert api.post("bookings", booking_args(world)).status_code == 201

    response = api.post("bookings", booking_args(world, customer_phone="040 1234567"))

    assert error_of(response) == (409, "CONFLICT")
    assert response.json()["error"]["code"] == 1010
    assert response.json()["error"]["details"]["next_available"][0]["start"] == (
        "2027-03-08T10:30:00+01:00"
    )
    assert Appointment.objects.all_tenants().count() == 1


def test_a_race_lost_at_the_database_is_409_not_500(api, world, monkeypatch):
    assert api.post("bookings", booking_args(world)).status_code == 201
    monkeypatch.setattr("bookings.availability.check_bookable", lambda **kwargs: None)

    response = api.post("bookings", booking_args(world, start_time=f"{MONDAY}T10:10:00"))

    assert error_of(response) == (409, "CONFLICT")
    assert Appointment.objects.all_tenants().count() == 1


def test_invalid_body_is_400_per_field(api, world):
    response = api.post(
        "bookings", booking_args(world, start_time="morgen", duration=5, customer_phone="12")
    )

    assert error_of(response) == (400, "VALIDATION_FAILED")
    assert set(response.json()["error"]["details"]) == {"start_time", "duration"}
    assert Appointment.objects.all_tenants().count() == 0


def test_idempotent_post_returns_the_same_booking(api, world):
    first = api.post("bookings", booking_args(world, idempotency_key="abc"))
    again = api.post("bookings", booking_args(world, idempotency_key="abc"))

    assert again.json() == first.json()
    assert Appointment.objects.all_tenants().count() == 1


def test_get_bookings_lists_with_query_filters(api, world):
    mine = existing(world, world.anna, at("10:00"))
    existing(world, world.ben, at("10:00", day="2027-03-09"))

    response = api.get("bookings", {"date": MONDAY, "page_size": "10"})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["bookings"]] == [mine.pk]
    assert (response.json()["count"], response.json()["next_page"]) == (1, None)
    assert error_of(api.get("bookings", {"page_size": "500"})) == (400, "VALIDATION_FAILED")


def test_get_put_cancel_reschedule_confirm_by_id(api, world):
    appointment_id = api.post("bookings", booking_args(world)).json()["appointment"]["id"]
    path = f"bookings/{appointment_id}"

    details = api.get(path)
    assert details.status_code == 200
    assert details.json()["staff"] == {"id": world.anna.pk, "name": "Anna"}

    updated = api.put(path, {"notes": "Bitte pünktlich", "appointment_id": 999999})
    assert updated.status_code == 200
    assert Appointment.objects.all_tenants().get(pk=appointment_id).notes == "Bitte pünktlich"

    moved = api.post(f"{path}/reschedule", {"start_time": f"{MONDAY}T15:00:00"})
    assert moved.status_code == 200
    assert moved.json()["appointment"]["start_time"] == "2027-03-08T15:00:00+01:00"

    assert error_of(api.post(f"{path}/confirm")) == (409, "CONFLICT")

    cancelled = api.post(f"{path}/cancel", {"reason": "verhindert"})
    assert cancelled.status_code == 200
    assert cancelled.json()["appointment"]["status"] == "cancelled"
    assert error_of(api.post(f"{path}/cancel")) == (409, "CONFLICT")


def test_confirm_a_pending_booking(api, world):
    pending = existing(world, world.anna, at("10:00"), status=AppointmentStatus.PENDING)

    response = api.post(f"bookings/{pending.pk}/confirm")

    assert response.status_code == 200
    assert response.json()["appointment"]["status"] == "confirmed"


def test_reschedule_to_a_taken_slot_is_409_and_changes_nothing(api, world):
    appointment_id = api.post("bookings", booking_args(world)).json()["appointment"]["id"]
    existing(world, world.anna, at("14:00"))

    response = api.post(f"bookings/{appointment_id}/reschedule", {"start_time": f"{MONDAY}T14:00"})

    assert error_of(response) == (409, "CONFLICT")
    assert Appointment.objects.all_tenants().get(pk=appointment_id).start_time == at("10:00")


def test_another_tenants_booking_is_404_on_every_route(api, world):
    other = make_world()
    foreign = existing(other, other.anna, at("10:00"))
    path = f"bookings/{foreign.pk}"

    for response in [
        api.get(path),
        api.put(path, {"notes": "x"}),
        api.post(f"{path}/cancel"),
        api.post(f"{path}/reschedule", {"start_time": f"{MONDAY}T11:00"}),
        api.post(f"{path}/confirm"),
    ]:
        assert error_of(response) == (404, "RESOURCE_NOT_FOUND")
        assert response.json()["error"]["details"] == {"appointment_id": foreign.pk}
    assert api.get("bookings").json()["count"] == 0
    foreign.refresh_from_db()
    assert (foreign.status, foreign.notes) == ("confirmed", "")


def test_another_tenants_branch_in_the_body_is_404(api, world):
    other = make_world()

    response = api.post("bookings", booking_args(world, branch_id=other.branch.pk))

    assert error_of(response) == (404, "RESOURCE_NOT_FOUND")
    assert Appointment.objects.all_tenants().count() == 0


def test_without_a_key_401_and_a_readonly_key_cannot_book(client, world):
    response = client.post(
        f"{BASE}/bookings", json.dumps(booking_args(world)), content_type="application/json"
    )
    assert error_of(response) == (401, "AUTHENTICATION_FAILED")

    readonly = Api(client, world, role="readonly")
    assert error_of(readonly.post("bookings", booking_args(world))) == (403, "PERMISSION_DENIED")
    assert readonly.get("bookings").status_code == 200
    assert Appointment.objects.all_tenants().count() == 0


def test_openapi_documents_the_booking_routes(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    assert {"post", "get"} <= set(schema["paths"]["/api/v2/mcp/bookings"])
    assert "post" in schema["paths"]["/api/v2/mcp/bookings/{appointment_id}/reschedule"]
