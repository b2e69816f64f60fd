"""The console in headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium), as the demo tenant's operator uses it: today's appointments per staff member, a
move through the slot picker, a cancellation with its reason, a customer found by a national
number, a dead-lettered message delivered again, and every console page opening cleanly.
Then the opening hours of a branch edited in the grid, refused in German when wrong.
Screenshots land in .artefacts/console/ (git-ignored) for a person to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from bookings.confirmation import new_confirmation_number
from bookings.enums import AppointmentSource, AppointmentStatus
from bookings.models import Appointment, Customer
from mcp_core import outbox
from mcp_core.management.demo import demo_password, seed_demo
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus
from staff.models import Staff, StaffService
from tenants.models import Branch
from tests.console.conftest import ARTEFACTS

pytestmark = [pytest.mark.webdriver, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


def _today_appointment(staff: Staff, customer: Customer, hour: int) -> Appointment:
    skill = StaffService.objects.for_tenant(staff.tenant_id).filter(staff=staff).first()
    service = skill.service
    start = dt.datetime.combine(timezone.localdate(timezone=BERLIN), dt.time(hour), BERLIN)
    end = start + dt.timedelta(minutes=service.duration_minutes)
    return Appointment.objects.create(
        tenant=staff.tenant,
        branch=staff.branch,
        service=service,
        staff=staff,
        customer=customer,
        start_time=start,
        end_time=end,
        occupied_start=start,
        occupied_end=end,
        status=AppointmentStatus.CONFIRMED,
        confirmation_number=new_confirmation_number(),
        source=AppointmentSource.ADMIN,
        price=service.price,
    )


def _shot(driver: webdriver.Chrome, name: str) -> None:
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def _flash(driver: webdriver.Chrome) -> str:
    """The admin's message after a submit, once the next page has loaded."""
    return str(
        WebDriverWait(driver, 20)
        .until(lambda d: d.find_element(By.CSS_SELECTOR, ".messagelist"))
        .text
    )


def _no_error(driver: webdriver.Chrome) -> None:
    assert "Server Error" not in driver.title and "Fehler" not in driver.title.split("|")[0]
    assert driver.find_element(By.ID, "content")


def test_the_operator_runs_the_day_in_the_console(live_server, browser):
    demo = seed_demo()
    tenant_id = demo["tenant_id"]
    branch_id = demo["branches"][0]["id"]
    staff = list(
        Staff.objects.for_tenant(tenant_id).filter(branch_id=branch_id).order_by("name")[:2]
    )
    customers = Customer.objects.for_tenant(tenant_id)
    maria, jonas = customers.get(name="Maria Hoffmann"), customers.get(name="Jonas Klein")
    first = _today_appointment(staff[0], maria, 12)
    second = _today_appointment(staff[1], jonas, 13)
    with transaction.atomic():
        dead = outbox.enqueue(
            tenant=first.tenant,
            topic="notification.booking",
            payload={"appointment_id": first.pk, "kind": "confirmation", "actor": "test"},
        )
    OutboxMessage.objects.for_tenant(tenant_id).filter(pk=dead.pk).update(
        status=OutboxStatus.DEAD, last_error="Zeitüberschreitung beim Anbieter"
    )

    # Log in as the demo operator; the start page is "Heute" for the first branch.
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(demo["operator"]["username"])
    browser.find_element(By.NAME, "password").send_keys(demo_password("operator"))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Heute"
    lanes = browser.find_elements(By.CSS_SELECTOR, "tr.console-staff")
    by_staff = {lane.find_element(By.TAG_NAME, "th").text: lane.text for lane in lanes}
    assert "12:00" in by_staff[staff[0].name] and "13:00" in by_staff[staff[1].name]
    assert "13:00" not in by_staff[staff[0].name]
    _shot(browser, "01-heute")

    # Umbuchen: the slot picker's first free time, saved through the booking service.
    browser.find_element(By.CSS_SELECTOR, f'a[data-appointment="{first.pk}"]').click()
    picker = Select(browser.find_element(By.NAME, "move_slot"))
    chosen = picker.options[1]
    start_iso, _sep, new_staff = chosen.get_attribute("value").partition("|")
    picker.select_by_index(1)
    _shot(browser, "02-umbuchen")
    browser.find_element(By.NAME, "_continue").click()
    assert "erfolgreich geändert" in _flash(browser)
    first.refresh_from_db()
    assert first.start_time == dt.datetime.fromisoformat(start_iso)
    assert first.staff_id == int(new_staff)
    notices = OutboxMessage.objects.for_tenant(tenant_id).filter(
        payload__appointment_id=first.pk, payload__kind="reschedule"
    )
    assert notices.count() == 1  # the customer's SMS about the move, recorded to be sent

    # Stornieren: chosen in the list, confirmed with a reason on the next page.
    browser.get(f"{live_server.url}/admin/bookings/appointment/")
    browser.find_element(
        By.CSS_SELECTOR, f'input[name="_selected_action"][value="{second.pk}"]'
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("cancel_appointments")
    browser.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()
    browser.find_element(By.NAME, "reason").send_keys("Kunde hat telefonisch abgesagt")
    _shot(browser, "03-stornieren")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit].default").click()
    assert "1 Termin storniert." in _flash(browser)
    second.refresh_from_db()
    assert (second.status, second.cancellation_reason) == (
        AppointmentStatus.CANCELLED,
        "Kunde hat telefonisch abgesagt",
    )

    # A customer found by the national format of their number; their page shows the history.
    browser.get(f"{live_server.url}/admin/bookings/customer/")
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("0151 12345678")
    search.submit()
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [row.find_element(By.CSS_SELECTOR, "th").text for row in rows] == ["Maria Hoffmann"]
    rows[0].find_element(By.CSS_SELECTOR, "th a").click()
    assert first.confirmation_number not in browser.page_source  # named by time, linked
    assert "Verlauf" in browser.page_source
    _shot(browser, "04-kunde")

    # Probleme: the dead-lettered message goes back to the queue, audited as the operator.
    browser.get(f"{live_server.url}/admin/probleme/")
    assert "Zeitüberschreitung beim Anbieter" in browser.page_source
    _shot(browser, "05-probleme")
    browser.find_element(
        By.CSS_SELECTOR, f'button[name="retry_message"][value="{dead.pk}"]'
    ).click()
    assert "Erneut zur Zustellung eingereiht." in _flash(browser)
    assert OutboxMessage.objects.for_tenant(tenant_id).get(pk=dead.pk).status != OutboxStatus.DEAD
    assert (
        AuditLog.objects.for_tenant(tenant_id)
        .filter(action="outbox.retried", actor="admin:operator")
        .exists()
    )

    # Every console page opens without an error.
    browser.get(f"{live_server.url}/admin/bereiche/")
    _shot(browser, "06-bereiche")
    links = {
        a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, "#content-main a")
        if a.get_attribute("href").startswith(live_server.url)
    }
    assert any("/admin/bookings/appointment/" in link for link in links)
    technical = ("/sagarun/", "/outboxmessage/", "/webhookevent/", "/calcombusyblock/")
    assert not any(part in link for link in links for part in technical)  # superusers only
    for page in sorted(links | {f"{live_server.url}/admin/", f"{live_server.url}/admin/heute/"}):
        browser.get(page)
        _no_error(browser)


def _login(driver: webdriver.Chrome, live_server: Any, username: str) -> None:
    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(demo_password("operator"))
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.TAG_NAME, "h1"))


def _day_row(driver: webdriver.Chrome, weekday: str) -> list[Any]:
    """The open box, from and to of a weekday in the opening-hours grid."""
    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-weekday="{weekday}"]')
    return list(row.find_elements(By.TAG_NAME, "input"))


def _type(field: Any, text: str) -> None:
    field.clear()
    field.send_keys(text)


def test_the_operator_edits_opening_hours_in_the_grid(live_server, browser):
    demo = seed_demo()
    branch = Branch.objects.for_tenant(demo["tenant_id"]).get(pk=demo["branches"][0]["id"])
    _login(browser, live_server, demo["operator"]["username"])
    url = f"{live_server.url}/admin/tenants/branch/{branch.pk}/change/"

    # A closing time before the opening time: refused in German, nothing saved.
    browser.get(url)
    assert "Öffnungszeiten" in browser.page_source
    assert not browser.find_elements(By.NAME, "business_hours")  # no JSON box
    _box, _opens, closes = _day_row(browser, "tuesday")
    _type(closes, "07:00")
    browser.find_element(By.NAME, "_continue").click()
    error = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".errorlist")
    )
    assert "Dienstag: Die Schließzeit muss nach der Öffnungszeit liegen." in error.text
    _shot(browser, "07-oeffnungszeiten-fehler")
    branch.refresh_from_db()
    assert branch.business_hours["tuesday"]["close"] != "07:00"

    # Saturday 10:00–16:00, Sunday open 11:00–15:00, Tuesday fixed: saved and audited.
    browser.get(url)
    _box, _opens, closes = _day_row(browser, "tuesday")
    _type(closes, "19:00")
    _box, opens, closes = _day_row(browser, "saturday")
    _type(opens, "10:00")
    _type(closes, "16:00")
    box, opens, closes = _day_row(browser, "sunday")
    if not box.is_selected():
        box.click()
    _type(opens, "11:00")
    _type(closes, "15:00")
    _shot(browser, "08-oeffnungszeiten")
    browser.find_element(By.NAME, "_continue").click()
    assert "erfolgreich geändert" in _flash(browser)
    branch.refresh_from_db()
    assert branch.business_hours["tuesday"]["close"] == "19:00"
    assert branch.business_hours["saturday"] == {"open": "10:00", "close": "16:00", "is_open": True}
    assert branch.business_hours["sunday"] == {"open": "11:00", "close": "15:00", "is_open": True}
    assert (
        AuditLog.objects.for_tenant(demo["tenant_id"])
        .filter(action="branch.updated", actor="admin:operator")
        .exists()
    )
