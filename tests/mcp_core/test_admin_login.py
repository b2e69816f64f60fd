"""The admin login is throttled per username and per address (django-ratelimit)."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_user():
    user = UserFactory(username="anna", is_staff=True, is_superuser=True)
    user.set_password("richtig-und-lang")
    user.save()
    return user


def _attempt(client, password, *, username="anna", address="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_right_password_logs_in(client, staff_user):
    response = _attempt(client, "richtig-und-lang")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_after_40_wrong_passwords_the_right_one_is_refused_until_the_window_passes(
    client, staff_user
):
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        answers = [_attempt(client, f"falsch-{n}").status_code for n in range(40)]
        refused = _attempt(client, "richtig-und-lang")

    assert answers[:5] == [200] * 5  # the form again, with its error
    assert set(answers[5:]) == {429}
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 16, tzinfo=dt.UTC), tick=False):
        later = _attempt(client, "richtig-und-lang")

    assert later.status_code == 302


def test_one_address_trying_many_usernames_is_refused(client, staff_user):
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        answers = [_attempt(client, "falsch", username=f"user{n}").status_code for n in range(21)]
        refused = _attempt(client, "richtig-und-lang")
        elsewhere = _attempt(client, "richtig-und-lang", address="203.0.113.9")

    assert answers[:20] == [200] * 20
    assert answers[20] == 429
    assert refused.status_code == 429
    # Another address may still log in as anna: her own count has only the one failure.
    assert elsewhere.status_code == 302


def test_successful_logins_are_not_counted(client, staff_user):
    for _ in range(8):
        assert _attempt(client, "richtig-und-lang").status_code == 302
        client.logout()
