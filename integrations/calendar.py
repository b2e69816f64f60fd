"""Pluggable calendar backends: where a booking is mirrored outside AskProAI (Cal.com, ...).

`settings.CALENDAR_BACKEND` names the backend: a key of `BACKENDS` or a dotted path to a class
with the `CalendarBackend` shape. One instance per name and process (`get_calendar_backend`).

- `local` (default): bookings live only here; nothing to sync (`sync_status: not_required`).
- `memory`: an in-process calendar for tests and demos; `fail_with` makes every call raise.

Backend calls go through `call` (the integration's circuit breaker; every exception becomes
`CalendarError`), so a calendar outage can never fail a booking: the booking service keeps the
appointment with `sync_status: pending` and a Celery task retries. Events carry the
confirmation number as a stable uid, so a backend can recognise a create it has already seen.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

from mcp_core.breakers import call_with_breaker

T = TypeVar("T")


class CalendarError(Exception):
    """The calendar backend failed or is unreachable; the booking stands, sync is retried."""


@dataclass(frozen=True)
class CalendarEvent:
    """One appointment as an external calendar sees it (times aware, in the branch's zone)."""

    uid: str  # the confirmation number
    tenant_id: int
    appointment_id: int
    start: dt.datetime
    end: dt.datetime
    time_zone: str
    title: str
    branch_id: int
    branch_name: str
    staff_id: int
    staff_name: str
    customer_name: str
    customer_phone: str
    customer_email: str
    notes: str


class CalendarBackend(Protocol):
    name: str
    # False: nothing outside AskProAI to keep in line, appointments stay `not_required`.
    requires_sync: bool

    def create_event(self, event: CalendarEvent) -> str:
        """Create the event; returns its id in the external calendar."""
        ...

    def update_event(self, external_id: str, event: CalendarEvent) -> None: ...

    def cancel_event(self, external_id: str) -> None:
        """Cancel the event; cancelling one already cancelled or gone is no error."""
        ...


class LocalCalendar:
    name = "local"
    requires_sync = False

    def create_event(self, event: CalendarEvent) -> str:
        return ""

    def update_event(self, external_id: str, event: CalendarEvent) -> None:
        return None

    def cancel_event(self, external_id: str) -> None:
        return None


@dataclass
class InMemoryCalendar:
    """A calendar held in this process: `events` by external id, `cancelled` ids, `calls` in
    order. Set `fail_with` to an exception to make every call raise it (an outage)."""

    name = "memory"
    requires_sync = True
    events: dict[str, CalendarEvent] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_with: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _enter(self, method: str, key: str) -> None:
        self.calls.append((method, key))
        if self.fail_with is not None:
            raise self.fail_with

    def create_event(self, event: CalendarEvent) -> str:
        with self._lock:
            self._enter("create", event.uid)
            external_id = f"mem-{uuid.uuid4().hex[:12]}"
            self.events[external_id] = event
            return external_id

    def update_event(self, external_id: str, event: CalendarEvent) -> None:
        with self._lock:
            self._enter("update", external_id)
            self.events[external_id] = event

    def cancel_event(self, external_id: str) -> None:
        with self._lock:
            self._enter("cancel", external_id)
            self.events.pop(external_id, None)
            self.cancelled.add(external_id)


BACKENDS: dict[str, Callable[[], CalendarBackend]] = {
    "local": LocalCalendar,
    "memory": InMemoryCalendar,
}

_instances: dict[str, CalendarBackend] = {}
_instances_lock = threading.Lock()


def get_calendar_backend() -> CalendarBackend:
    """The configured backend (`settings.CALENDAR_BACKEND`), one instance per name and process.

    Raises ImportError for a name that is neither a key of BACKENDS nor an importable class.
    """
    name = settings.CALENDAR_BACKEND or "local"
    backend = _instances.get(name)
    if backend is None:
        with _instances_lock:
            backend = _instances.get(name)
            if backend is None:
                factory = BACKENDS.get(name) or import_string(name)
                backend = _instances[name] = factory()
    return backend


def reset_backends() -> None:
    """Forget every backend instance (tests: a fresh in-memory calendar)."""
    with _instances_lock:
        _instances.clear()


def call(backend: CalendarBackend, method: Callable[..., T], *args: Any) -> T:
    """Call one backend method through the circuit breaker named after the backend (`calcom`
    for Cal.com, as health reports it).

    Raises CalendarError for anything the backend raised and while its breaker is open.
    """
    try:
        return call_with_breaker(backend.name, method, *args)
    except Exception as exc:
        raise CalendarError(f"{backend.name}: {type(exc).__name__}: {exc}") from exc
