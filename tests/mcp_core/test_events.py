"""The event dispatcher: listeners run after commit, in order, and never break the caller."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.db import transaction

from mcp_core import events
from mcp_core.events import Event, EventDispatcher

# Real commits: listeners wait for them, and the test transaction would never commit.
pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_listeners_run_after_the_transaction_commits():
    dispatcher = EventDispatcher()
    calls: list[tuple[str, Event]] = []
    dispatcher.listen("booking.created", lambda e: calls.append(("first", e)))
    dispatcher.listen("booking.created", lambda e: calls.append(("second", e)))
    dispatcher.listen("booking.cancelled", lambda e: calls.append(("other", e)))

    with transaction.atomic():
        dispatcher.dispatch("booking.created", {"id": 7})
        assert calls == []

    event = Event("booking.created", {"id": 7})
    assert calls == [("first", event), ("second", event)]


def test_listeners_never_run_when_the_transaction_rolls_back():
    dispatcher = EventDispatcher()
    calls: list[Event] = []
    dispatcher.listen("booking.created", calls.append)

    with pytest.raises(Boom), transaction.atomic():
        dispatcher.dispatch("booking.created", {"id": 7})
        raise Boom

    assert calls == []


def test_outside_a_transaction_listeners_run_at_once():
    dispatcher = EventDispatcher()
    calls: list[Event] = []
    dispatcher.listen("booking.created", calls.append)

    dispatcher.dispatch("booking.created", {"id": 7})

    assert calls == [Event("booking.created", {"id": 7})]


def test_a_failing_listener_is_logged_and_breaks_neither_caller_nor_others(caplog):
    dispatcher = EventDispatcher()
    calls: list[Event] = []

    def send_sms(event: Event) -> None:
        raise Boom("gateway down")

    dispatcher.listen("booking.created", send_sms)
    dispatcher.listen("booking.created", calls.append)

    with caplog.at_level(logging.ERROR), transaction.atomic():
        dispatcher.dispatch("booking.created", {"id": 7})

    assert calls == [Event("booking.created", {"id": 7})]
    failures = [r for r in caplog.records if r.name == "mcp_core.events"]
    assert [r.getMessage() for r in failures] == [
        "event listener test_a_failing_listener_is_logged_and_breaks_neither_caller_nor_others."
        "<locals>.send_sms failed for booking.created"
    ]
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], Boom)


def test_payload_is_a_read_only_copy_taken_at_dispatch():
    dispatcher = EventDispatcher()
    seen: list[dict] = []

    def meddle(event: Event) -> None:
        event.payload["id"] = 99  # type: ignore[index]

    dispatcher.listen("booking.created", meddle)
    dispatcher.listen("booking.created", lambda e: seen.append(dict(e.payload)))
    payload = {"id": 7}

    with transaction.atomic():
        dispatcher.dispatch("booking.created", payload)
        payload["id"] = 8

    assert seen == [{"id": 7}]


def test_a_listener_registered_twice_runs_once():
    dispatcher = EventDispatcher()
    calls: list[Event] = []
    dispatcher.listen("booking.created", calls.append)
    dispatcher.listen("booking.created", calls.append)

    dispatcher.dispatch("booking.created", {})

    assert calls == [Event("booking.created", {})]


def test_dispatch_without_listeners_does_nothing():
    EventDispatcher().dispatch("booking.created", {"id": 7})


def test_module_level_functions_use_the_default_dispatcher():
    name = f"test.{uuid.uuid4().hex}"
    calls: list[Event] = []

    events.listen(name, calls.append)
    with transaction.atomic():
        events.dispatch(name, {"id": 1})
    events.dispatcher.dispatch(name, {"id": 2})

    assert calls == [Event(name, {"id": 1}), Event(name, {"id": 2})]
