"""Forms instead of JSON: a branch manager edits opening hours, booking settings, working hours
with breaks and routing conditions in fields, posted through the admin as a browser posts them.
What the API refuses the form refuses too, in German, and nothing changes; another tenant's
rows stay out of reach."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from mcp_core.models import AuditLog
from routing.models import RoutingRule
from staff.models import WorkingHours
from tenants.hours import default_business_hours
from tests.admin_forms import form_data
from tests.factories import (
    BranchFactory,
    OperatorProfileFactory,
    RoutingRuleFactory,
    ServiceFactory,
    StaffFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    """A client logged in as a branch manager (Filialleitung) of a tenant with one branch."""
    branch = BranchFactory(name="Mitte", settings={"slot_interval_minutes": 30, "theme": "rosa"})
    profile = OperatorProfileFactory(tenant=branch.tenant)
    profile.user.groups.add(Group.objects.get(name="Filialleitung"))
    client.force_login(profile.user)
    client.branch = branch
    return client


def _page(client: Any, url: str) -> tuple[str, dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    return html, form_data(html)


def _errors(response: Any) -> str:
    return response.content.decode()


def _hours(**days: tuple[str, str] | None) -> dict[str, Any]:
    """The grid's fields for the given days (open from–to, or None: closed)."""
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    fields: dict[str, Any] = {}
    for index, name in enumerate(names):
        if name not in days:
            continue
        hours = days[name]
        base = 3 * index
        if hours is None:
            fields[f"opening_hours_{base}"] = ""  # unchecked: a browser sends nothing
        else:
            fields[f"opening_hours_{base}"] = "on"
            fields[f"opening_hours_{base + 1}"], fields[f"opening_hours_{base + 2}"] = hours
    return fields


# ----------------------------------------------------------------------------- opening hours


def test_the_branch_page_shows_a_grid_and_no_json(manager):
    html, form = _page(manager, reverse("admin:tenants_branch_change", args=[manager.branch.pk]))
    assert "Öffnungszeiten" in html and "Montag" in html and "Buchungseinstellungen" in html
    assert 'name="business_hours"' not in html and 'name="settings"' not in html
    assert (form["opening_hours_0"], form["opening_hours_1"], form["opening_hours_2"]) == (
        "on",
        "09:00",
        "18:00",
    )
    assert "opening_hours_18" not in form  # Sunday closed: its box is not ticked
    assert form["slot_interval_minutes"] == "30"


def test_a_valid_grid_saves_through_the_service_and_is_audited(manager):
    url = reverse("admin:tenants_branch_change", args=[manager.branch.pk])
    _html, form = _page(manager, url)
    form.pop("opening_hours_0", None)  # Monday closed
    form.update(_hours(tuesday=("10:00", "19:30"), sunday=("11:00", "15:00")))
    form["slot_interval_minutes"] = "15"
    form["min_notice_minutes"] = ""

    response = manager.post(url, form)

    assert response.status_code == 302, _errors(response)
    manager.branch.refresh_from_db()
    hours = manager.branch.business_hours
    assert hours["monday"] == {"open": "09:00", "close": "18:00", "is_open": False}
    assert hours["tuesday"] == {"open": "10:00", "close": "19:30", "is_open": True}
    assert hours["sunday"] == {"open": "11:00", "close": "15:00", "is_open": True}
    # The shown settings changed, an empty one was dropped, the others stayed.
    assert manager.branch.settings == {"slot_interval_minutes": 15, "theme": "rosa"}
    audit = AuditLog.objects.for_tenant(manager.branch.tenant).get(action="branch.updated")
    assert audit.actor.startswith("admin:")
    assert set(audit.changes) == {"business_hours", "settings"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _hours(tuesday=("18:00", "09:00")),
            "Dienstag: Die Schließzeit muss nach der Öffnungszeit liegen.",
        ),
        (_hours(wednesday=("10:00", "")), "Mittwoch: Ein geöffneter Tag braucht"),
        (_hours(friday=("9", "18:00")), "Freitag von: Uhrzeit als HH:MM angeben."),
        ({"slot_interval_minutes": "3"}, "Ganze Minuten von 5 bis 525600."),
    ],
)
def test_an_invalid_grid_gets_a_german_error_and_changes_nothing(manager, change, message):
    url = reverse("admin:tenants_branch_change", args=[manager.branch.pk])
    _html, form = _page(manager, url)
    form.update(change)
    form["name"] = "Umbenannt"

    response = manager.post(url, form)

    assert response.status_code == 200
    assert message in _errors(response)
    manager.branch.refresh_from_db()
    assert manager.branch.name == "Mitte"
    assert manager.branch.business_hours == default_business_hours()
    assert manager.branch.settings == {"slot_interval_minutes": 30, "theme": "rosa"}
    assert not AuditLog.objects.all_tenants().exists()


def test_another_tenants_branch_is_out_of_reach(manager):
    foreign = BranchFactory(name="Fremdfiliale")
    url = reverse("admin:tenants_branch_change", args=[foreign.pk])
    _html, form = _page(manager, reverse("admin:tenants_branch_change", args=[manager.branch.pk]))
    form.update(_hours(monday=("06:00", "07:00")))

    assert manager.get(url).status_code == 302  # "does not exist", back to the index
    manager.post(url, form)

    foreign.refresh_from_db()
    assert foreign.business_hours == default_business_hours()
    assert (
        "Fremdfiliale"
        not in manager.get(reverse("admin:tenants_branch_changelist")).content.decode()
    )


# ----------------------------------------------------------------------- working hours, breaks


def _staff_page(client: Any) -> tuple[Any, str, dict[str, Any]]:
    staff = StaffFactory(branch=client.branch, name="Ayşe")
    WorkingHoursFactory(staff=staff)  # Monday 09:00–18:00, break 12:30–13:00
    url = reverse("admin:staff_staff_change", args=[staff.pk])
    _html, form = _page(client, url)
    return staff, url, form


def _row(
    form: dict[str, Any], index: int, weekday: int, start: str, end: str, *breaks: str
) -> None:
    prefix = f"working_hours-{index}"
    form[f"{prefix}-weekday"] = str(weekday)
    form[f"{prefix}-start_time"], form[f"{prefix}-end_time"] = start, end
    for slot, value in enumerate(breaks):
        form[f"{prefix}-breaks_{slot}"] = value
    form["working_hours-TOTAL_FORMS"] = str(max(int(form["working_hours-TOTAL_FORMS"]), index + 1))


def test_working_hours_with_breaks_save_as_the_api_replaces_the_week(manager):
    staff, url, form = _staff_page(manager)
    assert 'name="working_hours-0-breaks"' not in form  # no JSON box
    assert form["working_hours-0-breaks_0"] == "12:30"
    _row(form, 0, 0, "08:00", "12:00", "10:00", "10:15")
    _row(form, 1, 0, "13:00", "17:00")
    _row(form, 2, 4, "09:00", "18:00", "12:00", "12:30", "15:00", "15:10")

    response = manager.post(url, form)

    assert response.status_code == 302, _errors(response)
    rows = WorkingHours.objects.for_tenant(staff.tenant).filter(staff=staff)
    assert sorted((r.weekday, r.start_time, r.end_time, r.breaks) for r in rows) == [
        (0, dt.time(8), dt.time(12), [{"start": "10:00", "end": "10:15"}]),
        (0, dt.time(13), dt.time(17), []),
        (
            4,
            dt.time(9),
            dt.time(18),
            [{"start": "12:00", "end": "12:30"}, {"start": "15:00", "end": "15:10"}],
        ),
    ]
    audit = AuditLog.objects.for_tenant(staff.tenant).get(action="staff.schedule_updated")
    assert audit.object_id == str(staff.pk)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [(0, "09:00", "13:00"), (0, "12:00", "18:00")],
            "Montag: Die Arbeitszeiten 09:00–13:00 und 12:00–18:00 überschneiden sich.",
        ),
        ([(0, "09:00", "18:00", "19:00", "19:30")], "Pause 1 muss innerhalb der Arbeitszeit"),
        ([(0, "09:00", "18:00", "12:00", "")], "Pause 1: Beginn und Ende als HH:MM angeben."),
        ([(0, "18:00", "09:00")], "Das Ende muss nach dem Beginn liegen."),
    ],
)
def test_invalid_working_hours_get_a_german_error_and_change_nothing(manager, rows, message):
    staff, url, form = _staff_page(manager)
    for index, row in enumerate(rows):
        _row(form, index, *row)

    response = manager.post(url, form)

    assert response.status_code == 200
    assert message in _errors(response)
    (kept,) = WorkingHours.objects.for_tenant(staff.tenant).filter(staff=staff)
    assert (kept.start_time, kept.end_time, kept.breaks) == (
        dt.time(9),
        dt.time(18),
        [{"start": "12:30", "end": "13:00"}],
    )


# --------------------------------------------------------------------------- routing rules


def _rule_form(client: Any, **fields: Any) -> dict[str, Any]:
    _html, form = _page(client, reverse("admin:routing_routingrule_add"))
    form.update(
        {"name": "Abends", "priority": "10", "action": "fallback", "is_active": "on", **fields}
    )
    return form


def test_routing_conditions_are_fields_and_save_normalised(manager):
    html = manager.get(reverse("admin:routing_routingrule_add")).content.decode()
    assert 'name="conditions"' not in html and "Zeitfenster" in html and "Dienstag" in html
    form = _rule_form(
        manager,
        time_windows_0="18:00",
        time_windows_1="09:00",
        time_windows_2=["friday", "monday"],
        languages="EN, tr",
        min_ongoing_calls="3",
    )

    response = manager.post(reverse("admin:routing_routingrule_add"), form)

    assert response.status_code == 302, _errors(response)
    rule = RoutingRule.objects.for_tenant(manager.branch.tenant).get()
    assert rule.conditions == {
        "time_windows": [{"start": "18:00", "end": "09:00", "weekdays": ["monday", "friday"]}],
        "languages": ["en", "tr"],
        "min_ongoing_calls": 3,
    }
    # The page shows what was saved, and saving it back unchanged changes nothing.
    url = reverse("admin:routing_routingrule_change", args=[rule.pk])
    _html, again = _page(manager, url)
    assert (again["time_windows_0"], again["languages"]) == ("18:00", "en, tr")
    assert manager.post(url, again).status_code == 302
    rule.refresh_from_db()
    assert rule.conditions["time_windows"][0]["weekdays"] == ["monday", "friday"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"time_windows_0": "18:00", "time_windows_1": "18:00"},
            "Zeitfenster 1: Beginn und Ende müssen sich unterscheiden.",
        ),
        ({"languages": "deutsch"}, "„deutsch“ ist kein zweibuchstabiger Sprachcode"),
        ({"min_ongoing_calls": "0"}, "Muss mindestens 1 sein."),
        ({"action": "use_agent"}, "„Agent verwenden“ braucht eine Agent-ID."),
        ({"action": "route_to_branch"}, "„An Filiale leiten“ braucht eine Zielfiliale."),
    ],
)
def test_an_invalid_rule_gets_a_german_error_and_is_not_saved(manager, fields, message):
    response = manager.post(reverse("admin:routing_routingrule_add"), _rule_form(manager, **fields))
    assert response.status_code == 200
    assert message in _errors(response)
    assert not RoutingRule.objects.all_tenants().exists()
    assert not AuditLog.objects.all_tenants().exists()


def test_another_tenants_rule_and_branch_are_out_of_reach(manager):
    foreign_rule = RoutingRuleFactory(name="Fremdregel", action="fallback")
    foreign_branch = BranchFactory(name="Fremdfiliale")
    url = reverse("admin:routing_routingrule_change", args=[foreign_rule.pk])
    assert manager.get(url).status_code == 302

    form = _rule_form(manager, action="overflow", target_branch=str(foreign_branch.pk))
    response = manager.post(reverse("admin:routing_routingrule_add"), form)

    assert response.status_code == 200
    assert "Fremdfiliale" not in response.content.decode()
    assert not RoutingRule.objects.for_tenant(manager.branch.tenant).exists()


# ----------------------------------------------------------------- lists and free-form JSON


def test_staff_languages_and_service_synonyms_are_text(manager):
    staff, url, form = _staff_page(manager)
    assert form["languages"] == "de"
    form["languages"] = "deutsch, en"
    response = manager.post(url, form)
    assert response.status_code == 200
    assert "Kein zweibuchstabiger Sprachcode: deutsch" in _errors(response)

    form["languages"] = "DE, en, de"
    # The working-hours row goes back unchanged (09:00–18:00) and stays valid.
    assert manager.post(url, form).status_code == 302
    staff.refresh_from_db()
    assert staff.languages == ["de", "en"]

    service = ServiceFactory(tenant=staff.tenant, name="Damenhaarschnitt", synonyms=["Schnitt"])
    service_url = reverse("admin:staff_service_change", args=[service.pk])
    _html, service_form = _page(manager, service_url)
    assert service_form["synonyms"] == "Schnitt"
    service_form["synonyms"] = "Haare schneiden\n\n  Spitzen schneiden \n"
    assert manager.post(service_url, service_form).status_code == 302
    service.refresh_from_db()
    assert service.synonyms == ["Haare schneiden", "Spitzen schneiden"]


def test_an_operator_gets_no_json_box_on_the_company_page(manager):
    tenant = manager.branch.tenant
    profile = tenant.operators.get()
    profile.user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_company", "change_company"])
    )
    url = reverse("admin:tenants_company_change", args=[tenant.pk])
    html, form = _page(manager, url)
    assert "<textarea" not in html
    assert 'name="settings"' not in html and 'name="subscription-0-features"' not in html
    form["name"] = "Salon Neu"
    assert manager.post(url, form).status_code == 302
    tenant.refresh_from_db()
    assert tenant.name == "Salon Neu"
