"""The calendar port of the bookings app: where a booking is mirrored outside AskProAI.

The booking services talk to a `CalendarBackend`; which one is configured like Django's
EMAIL_BACKEND: `settings.CALENDAR_BACKEND` is a short name of `settings.CALENDAR_BACKENDS` (the
environment's `local`, `memory`, `calcom`) or itself a dotted path to a class with the
`CalendarBackend` shape, imported with `import_string`. One instance per name and process
(`get_calendar_backend`). The two backends that need no vendor live here:

- `local` (default): bookings live only here; nothing to sync (`sync_status: not_required`).
- `memory`: an in-process calendar for tests and demos; `fail_with` makes every call raise.

Cal.com's backend is an adapter in `integrations.calcom.backend`.

Backend calls go through `call` (the integration's circuit breaker; every exception becomes
`CalendarError`), so a calendar outage can never fail a booking: the booking service keeps the
appointment with `sync_status: pending` and its outbox message (topic "calendar.sync") is
retried by Celery. Events carry the confirmation number as a stable uid, so a backend can
recognise a create it has already seen.

A backend may sync only some tenants or services (Cal.com: those with credentials and an event
type): it then has `requires_sync_for(tenant_id, service_id)`; see `requires_sync`.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

from common.errors import ApplicationError
from mcp_core.breakers import call_with_breaker, is_client_error
from tenants import policy

if TYPE_CHECKING:
    from tenants.models import Company

T = TypeVar("T")


class CalendarError(Exception):
    """The calendar backend failed or is unreachable; the booking stands, sync is retried.

    `permanent`: the backend refused the request itself (retrying cannot help)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


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
    service_id: int = 0


class CalendarBackend(Protocol):
    name: str
    # False: nothing outside AskProAI to keep in line, appointments stay `not_required`.
    requires_sync: bool

    def create_event(self, event: CalendarEvent) -> str:
        """Create the event; returns its id in the external calendar."""
        ...

    def update_event(self, external_id: str, event: CalendarEvent) -> str | None:
        """Bring the event in line; returns its new id when the calendar gave it a new one
        (Cal.com does on reschedule), else None."""
        ...

    def cancel_event(self, external_id: str) -> None:
        """Cancel the event; cancelling one already cancelled or gone is no error."""
        ...


class LocalCalendar:
    name = "local"
    requires_sync = False

    def create_event(self, event: CalendarEvent) -> str:
        return ""

    def update_event(self, external_id: str, event: CalendarEvent) -> str | None:
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

    def update_event(self, external_id: str, event: CalendarEvent) -> str | None:
        with self._lock:
            self._enter("update", external_id)
            self.events[external_id] = event
            return None

    def cancel_event(self, external_id: str) -> None:
        with self._lock:
            self._enter("cancel", external_id)
            self.events.pop(external_id, None)
            self.cancelled.add(external_id)


_instances: dict[str, CalendarBackend] = {}
_instances_lock = threading.Lock()


def get_calendar_backend() -> CalendarBackend:
    """The configured backend (`settings.CALENDAR_BACKEND`), one instance per name and process.

    Raises ImportError for a name that is neither a key of CALENDAR_BACKENDS nor an importable
    class.
    """
    name = settings.CALENDAR_BACKEND or "local"
    backend = _instances.get(name)
    if backend is None:
        with _instances_lock:
            backend = _instances.get(name)
            if backend is None:
                backend_class = import_string(settings.CALENDAR_BACKENDS.get(name, name))
                backend = _instances[name] = backend_class()
    return backend


def reset_backends() -> None:
    """Forget every backend instance (tests: a fresh in-memory calendar)."""
    with _instances_lock:
        _instances.clear()


def requires_sync(backend: CalendarBackend, *, tenant: Company, service_id: int) -> bool:
    """Whether appointments of this tenant and service have a copy in the backend's calendar
    (a backend that syncs only some answers per tenant and service; a cheap local check).
    A tenant whose plan in force lacks `calendar_sync` keeps none (tenants.policy)."""
    if not policy.feature_allowed(tenant, "calendar_sync"):
        return False
    per_tenant = getattr(backend, "requires_sync_for", None)
    if per_tenant is not None:
        return bool(per_tenant(tenant.pk, service_id))
    return backend.requires_sync


def call(backend: CalendarBackend, method: Callable[..., T], *args: Any) -> T:
    """Call one backend method through the circuit breaker named after the backend (`calcom`
    for Cal.com, as health reports it).

    Raises CalendarError for anything the backend raised and while its breaker is open;
    `permanent` when the backend refused the request (a client error, see
    `mcp_core.breakers.is_client_error`).
    """
    try:
        return call_with_breaker(backend.name, method, *args)
    except Exception as exc:
        message = exc.message if isinstance(exc, ApplicationError) else str(exc)
        raise CalendarError(
            f"{backend.name}: {type(exc).__name__}: {message}", permanent=is_client_error(exc)
        ) from exc
