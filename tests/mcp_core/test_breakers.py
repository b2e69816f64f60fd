import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from prometheus_client import REGISTRY

from common.errors import IntegrationError, ServiceUnavailable, ValidationFailed
from mcp_core import breakers
from mcp_core.breakers import (
    breaker_states,
    call_with_breaker,
    get_breaker,
    reset_breakers,
)

OPENED = dt.datetime(2027, 3, 1, 9, 0, 0, 250000, tzinfo=dt.UTC)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request, settings):
    if request.param == "memory":
        settings.REDIS_URL = ""
    reset_breakers()
    yield request.param
    reset_breakers()


@pytest.fixture
def clock():
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


class Flaky:
    """Stands in for an integration client: fails while `failing`, counts every call."""

    def __init__(self):
        self.calls = 0
        self.failing = True

    def __call__(self, booking_id):
        self.calls += 1
        if self.failing:
            raise IntegrationError(f"calcom answered 500 for {booking_id}")
        return {"synced": booking_id}


class Recorder:
    def __init__(self):
        self.events = []

    def warning(self, event, **fields):
        self.events.append(("warning", event))

    def info(self, event, **fields):
        self.events.append(("info", event))


def gauge(name):
    return REGISTRY.get_sample_value("mcp_circuit_breaker_state", {"service": name})


def trip(name, integration, times=5):
    for _ in range(times):
        with pytest.raises(IntegrationError):
            call_with_breaker(name, integration, 7)


def test_fifth_failure_is_the_original_error_and_the_sixth_call_is_refused(storage, clock):
    calcom = Flaky()

    for _ in range(5):
        with pytest.raises(IntegrationError) as failure:
            call_with_breaker("calcom", calcom, 7)
        assert str(failure.value) == "calcom answered 500 for 7"

    with pytest.raises(ServiceUnavailable) as refused:
        call_with_breaker("calcom", calcom, 7)

    assert calcom.calls == 5
    assert refused.value.message == "calcom is temporarily unavailable"
    assert refused.value.details == {"integration": "calcom", "retry_after": 60}
    assert refused.value.http_status == 503
    assert breaker_states()["calcom"] == "open"
    assert gauge("calcom") == 1.0


def test_four_failures_keep_it_closed_and_a_success_starts_the_count_again(storage, clock):
    calcom = Flaky()
    trip("calcom", calcom, times=4)
    calcom.failing = False
    assert call_with_breaker("calcom", calcom, 7) == {"synced": 7}
    calcom.failing = True

    trip("calcom", calcom, times=4)

    assert calcom.calls == 9
    assert breaker_states()["calcom"] == "closed"
    assert gauge("calcom") == 0.0


def test_retry_after_counts_down_to_the_recovery_timeout(storage, clock):
    calcom = Flaky()
    trip("calcom", calcom)
    clock.shift(dt.timedelta(seconds=59, microseconds=500000))

    with pytest.raises(ServiceUnavailable) as refused:
        call_with_breaker("calcom", calcom, 7)

    assert refused.value.details["retry_after"] == 1
    assert calcom.calls == 5


def test_after_the_recovery_timeout_one_successful_trial_closes_it(storage, clock):
    calcom = Flaky()
    trip("calcom", calcom)
    clock.shift(dt.timedelta(seconds=60))
    calcom.failing = False

    result = call_with_breaker("calcom", calcom, 8)

    assert result == {"synced": 8}
    assert calcom.calls == 6
    assert breaker_states()["calcom"] == "closed"
    assert gauge("calcom") == 0.0
    # Closed means the count starts over: four new failures do not reopen it.
    calcom.failing = True
    trip("calcom", calcom, times=4)
    assert breaker_states()["calcom"] == "closed"


def test_a_failed_trial_reopens_it_for_another_period(storage, clock):
    calcom = Flaky()
    trip("calcom", calcom)
    clock.shift(dt.timedelta(seconds=60))

    with pytest.raises(IntegrationError):
        call_with_breaker("calcom", calcom, 7)
    with pytest.raises(ServiceUnavailable) as refused:
        call_with_breaker("calcom", calcom, 7)

    assert calcom.calls == 6
    assert refused.value.details == {"integration": "calcom", "retry_after": 60}
    assert breaker_states()["calcom"] == "open"
    assert gauge("calcom") == 1.0


def test_client_errors_never_trip_it(storage, clock):
    class UnknownService(ValidationFailed):
        pass

    class BadRequest(Exception):
        client_error = True

    calls = []

    def reject(error):
        calls.append(error)
        raise error

    for error in [ValidationFailed("bad date"), UnknownService("no such service")] * 5:
        with pytest.raises(ValidationFailed) as raised:
            call_with_breaker("stripe", reject, error)
        assert raised.value is error
    for _ in range(5):
        with pytest.raises(BadRequest):
            call_with_breaker("stripe", reject, BadRequest())

    assert len(calls) == 15
    assert breaker_states()["stripe"] == "closed"
    assert gauge("stripe") == 0.0


def test_an_error_flagged_as_not_a_client_error_counts(storage, clock):
    class UpstreamRejected(ValidationFailed):
        client_error = False

    def reject():
        raise UpstreamRejected("stripe refused the card token format")

    for _ in range(5):
        with pytest.raises(UpstreamRejected):
            call_with_breaker("stripe", reject)

    assert breaker_states()["stripe"] == "open"


def test_breakers_are_independent_and_all_known_ones_are_listed(storage, clock):
    trip("calcom", Flaky())

    assert call_with_breaker("retell", lambda: "ok") == "ok"
    assert call_with_breaker("google", lambda: "ok") == "ok"
    assert breaker_states() == {
        "calcom": "open",
        "google": "closed",
        "retell": "closed",
        "stripe": "closed",
        "twilio": "closed",
    }
    assert (gauge("calcom"), gauge("retell"), gauge("google")) == (1.0, 0.0, 0.0)


def test_get_breaker_is_cached_per_name_and_uses_the_settings(storage, settings):
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 3
    settings.MCP_CIRCUIT_RECOVERY_TIMEOUT = 30
    reset_breakers()

    breaker = get_breaker("twilio")

    assert get_breaker("twilio") is breaker
    assert (breaker.name, breaker.fail_max, breaker.reset_timeout) == ("twilio", 3, 30)


def test_reset_forgets_the_state(storage, clock):
    trip("calcom", Flaky())

    reset_breakers()

    assert breaker_states()["calcom"] == "closed"
    assert gauge("calcom") == 0.0
    assert call_with_breaker("calcom", lambda: "ok") == "ok"


@pytest.mark.redis
def test_state_is_shared_through_redis(clock):
    reset_breakers()
    calcom = Flaky()
    trip("calcom", calcom)
    before = get_breaker("calcom")

    # What another process would do: build its own breaker from the state in Redis.
    reset_breakers(keep_shared_state=True)
    fresh = get_breaker("calcom")

    assert fresh is not before
    assert fresh.current_state == "open"
    assert gauge("calcom") == 1.0
    with pytest.raises(ServiceUnavailable) as refused:
        call_with_breaker("calcom", calcom, 7)
    assert calcom.calls == 5
    assert refused.value.details == {"integration": "calcom", "retry_after": 60}

    clock.shift(dt.timedelta(seconds=60))
    calcom.failing = False
    assert call_with_breaker("calcom", calcom, 7) == {"synced": 7}
    reset_breakers(keep_shared_state=True)
    assert breaker_states()["calcom"] == "closed"
    reset_breakers()


def test_unreachable_redis_never_fails_the_call_and_the_breaker_still_works(clock, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(breakers, "logger", recorder)
    calcom = Flaky()

    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        reset_breakers()
        calcom.failing = False
        assert call_with_breaker("calcom", calcom, 7) == {"synced": 7}
        calcom.failing = True
        trip("calcom", calcom)
        with pytest.raises(ServiceUnavailable) as refused:
            call_with_breaker("calcom", calcom, 7)
        states = breaker_states()
    reset_breakers()

    assert calcom.calls == 6
    assert refused.value.details == {"integration": "calcom", "retry_after": 60}
    assert states["calcom"] == "open"
    assert recorder.events == [
        ("warning", "breakers.redis_unavailable"),
        ("warning", "breakers.opened"),
    ]


@pytest.mark.redis
def test_shared_state_is_used_again_once_redis_answers(clock, monkeypatch):
    import redis

    monkeypatch.setattr(breakers, "logger", Recorder())
    monkeypatch.setattr(breakers, "_REDIS_RETRY_SECONDS", 0.0)
    reset_breakers()
    get_breaker("calcom")
    storage = breakers._entries["calcom"].storage
    healthy = storage._redis
    storage._redis = redis.Redis.from_url("redis://127.0.0.1:1/0")

    trip("calcom", Flaky())
    during_outage = breaker_states()["calcom"]
    storage._redis = healthy

    # Redis never saw the outage's failures, so the shared breaker is closed again.
    assert (during_outage, breaker_states()["calcom"]) == ("open", "closed")
    assert call_with_breaker("calcom", lambda: "ok") == "ok"
    reset_breakers()
