"""The console's live pages against the real ASGI server (uvicorn) and Redis: the WebSocket
/ws/v2/events accepts an operator's admin session from the console's own origin for their
tenant's branches only, and a booking made over REST appears on the open "Heute" page in
headless Chromium without a reload."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from staff.models import WorkingHours
from tests.bookings.test_booking_service import World, make_world
from tests.console.conftest import ARTEFACTS
from tests.factories import ApiKeyFactory, OperatorProfileFactory, UserFactory
from tests.serving import asgi_server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]

TIMEOUT = 10
PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> Iterator[str]:
    with asgi_server() as base:
        yield base


def early_morning_zone() -> ZoneInfo:
    """A fixed-offset zone where it is now between 05:00 and 07:00, so that a booking at
    10:00 "today" lies ahead at any hour the suite runs."""
    hour = dt.datetime.now(dt.UTC).hour
    offset = (5 - hour) % 24
    offset = offset - 24 if offset > 14 else offset
    # The POSIX names count the other way: Etc/GMT-3 is UTC+3.
    return ZoneInfo(f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT")


def open_world() -> tuple[World, dt.date]:
    """A tenant whose branch (in an early-morning zone) and Anna are open every day
    09:00–18:00; returns it with today in the branch's zone."""
    world = make_world(tz=str(early_morning_zone()))
    world.branch.business_hours = {
        day: {"open": "09:00", "close": "18:00", "is_open": True} for day in WEEKDAYS
    }
    world.branch.save(update_fields=["business_hours"])
    today = dt.datetime.now(ZoneInfo(world.branch.time_zone)).date()
    WorkingHours.objects.for_tenant(world.tenant).get_or_create(
        tenant=world.tenant,
        staff=world.anna,
        weekday=today.weekday(),
        defaults={"start_time": dt.time(9), "end_time": dt.time(18), "breaks": []},
    )
    return world, today


def operator(world: World, username: str) -> User:
    return OperatorProfileFactory(tenant=world.tenant, user__username=username).user


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/v2/events"


def session_socket(base: str, cookie: str | None, origin: str | None = None) -> ClientConnection:
    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
    return connect(ws_url(base), additional_headers=headers, origin=origin or base)


def receive(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def rest_booking(base: str, world: World, day: dt.date, hour: int) -> dict[str, Any]:
    _, token = ApiKeyFactory.create_with_plaintext(tenant=world.tenant, role="owner")
    response = httpx.post(
        f"{base}/api/v2/mcp/bookings",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "service_id": world.service.pk,
            "branch_id": world.branch.pk,
            "staff_id": world.anna.pk,
            "start_time": f"{day}T{hour:02d}:00:00",
            "customer_phone": "030 1234567",
            "customer_name": "Erika Mustermann",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_an_operator_session_hears_its_own_branch(server):
    world, day = open_world()
    with session_socket(server, session_cookie(operator(world, "anja"))) as ws:
        assert receive(ws) == {"type": "authenticated", "tenant_id": world.tenant.pk}
        ws.send(json.dumps({"type": "subscribe", "channels": [f"branch.{world.branch.pk}"]}))
        assert receive(ws)["type"] == "subscribed"
        booked = rest_booking(server, world, day, 10)
        event = receive(ws)
    assert event["event"] == "booking.created"
    assert event["data"]["appointment_id"] == booked["appointment"]["id"]


def test_an_operator_session_cannot_subscribe_to_another_tenant(server):
    (world, day), other = open_world(), make_world()
    with session_socket(server, session_cookie(operator(other, "bruno"))) as intruder:
        assert receive(intruder) == {"type": "authenticated", "tenant_id": other.tenant.pk}
        intruder.send(json.dumps({"type": "subscribe", "channels": [f"branch.{world.branch.pk}"]}))
        refused = receive(intruder)
        assert refused["error"]["type"] == "RESOURCE_NOT_FOUND"
        rest_booking(server, world, day, 11)
        with pytest.raises(TimeoutError):
            intruder.recv(timeout=1)


def test_a_superuser_cannot_name_a_tenant_for_an_operator(server):
    # `?tenant=` picks the tenant of a superuser's page only.
    world, other = make_world(), make_world()
    cookie = session_cookie(operator(other, "carla"))
    with connect(
        f"{ws_url(server)}?tenant={world.tenant.pk}",
        additional_headers={"Cookie": f"sessionid={cookie}"},
        origin=server,
    ) as ws:
        assert receive(ws) == {"type": "authenticated", "tenant_id": other.tenant.pk}


def test_anonymous_and_foreign_origins_are_not_authenticated_by_the_cookie(server):
    world = make_world()
    cookie = session_cookie(operator(world, "dora"))
    subscribe = json.dumps({"type": "subscribe", "channels": [f"branch.{world.branch.pk}"]})
    # No session at all, a page of another site carrying the operator's cookie, and a session
    # of a user bound to no company: each must authenticate like any client, or is closed.
    unbound = session_cookie(UserFactory(username="ohne-firma"))
    for socket in (
        session_socket(server, None),
        session_socket(server, cookie, origin="https://evil.example"),
    ):
        with socket as ws:
            ws.send(subscribe)
            refused = receive(ws)
            assert refused["error"]["type"] == "AUTHENTICATION_FAILED"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=TIMEOUT)
            assert ws.close_code == 4401
    with session_socket(server, unbound) as ws:
        assert receive(ws)["error"]["type"] == "AUTHENTICATION_FAILED"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=TIMEOUT)


@pytest.mark.webdriver
def test_a_rest_booking_appears_on_the_open_start_page(server, browser: webdriver.Chrome):
    world, day = open_world()
    user = operator(world, "emil")
    browser.get(f"{server}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(user.get_username())
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Heute"
    box = browser.find_element(By.ID, "console-today")
    WebDriverWait(browser, 20).until(lambda _d: box.get_attribute("data-live-state") == "live")
    assert "Live" in browser.find_element(By.ID, "console-live-state").text
    assert not browser.find_elements(By.CSS_SELECTOR, "a.console-slot")
    browser.execute_script("window.notReloaded = true;")

    booked = rest_booking(server, world, day, 10)

    slot = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(
            By.CSS_SELECTOR, f'a.console-slot[data-appointment="{booked["appointment"]["id"]}"]'
        )
    )
    assert "10:00" in slot.text and "Erika Mustermann" in slot.text
    assert browser.execute_script("return window.notReloaded === true;")  # no reload
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "07-heute-live.png"))
