"""A booking through the orchestrator that SIGKILLs its own process at a named boundary of the
booking saga, for test_booking_crash.py.

The subprocess runs `main()` from the project root after `django.setup()`, with DATABASE_URL
pointing at the test database and three arguments: the tenant's id, the API key's id, the
boundary and the booking's arguments as JSON. Each boundary replaces one function of the real
path with one that dies where the name says (the last one dies after the original returned).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from bookings import calendar, notifications
from bookings.services import reserve
from mcp_core.auth import Principal
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from tenants.models import Company

BOUNDARIES = (
    "before_reserve_commit",
    "after_reserve_commit",
    "inside_calendar_sync",
    "inside_notification",
    "after_last_step",
)


def _die(*args: Any, **kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def _then_die(original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        return _die()

    return wrapped


def install(boundary: str) -> None:
    if boundary == "before_reserve_commit":
        # The appointment, its audit row and outbox messages are written; the commit is not.
        reserve._reserved = _then_die(reserve._reserved)  # type: ignore[assignment]
    elif boundary == "after_reserve_commit":
        reserve.booking_calendar_deliver = _die
    elif boundary == "inside_calendar_sync":
        calendar.InMemoryCalendar.create_event = _die  # type: ignore[method-assign]
    elif boundary == "inside_notification":
        # The SMS provider hangs and the worker is killed while it waits.
        notifications.ConsoleSms.send = _die  # type: ignore[method-assign]
    elif boundary == "after_last_step":
        reserve.booking_notification_deliver = _then_die(reserve.booking_notification_deliver)
    else:
        raise SystemExit(f"unknown boundary {boundary!r}")


def main() -> None:
    tenant_id, key_id, boundary, args = sys.argv[1:5]
    install(boundary)
    tenant = Company.objects.get(pk=int(tenant_id))
    principal = Principal(tenant=tenant, role=Role.OWNER, api_key_id=int(key_id), key_prefix="")
    result = execute_named(principal, "booking.createBooking", json.loads(args), source="api")
    sys.exit(f"the booking outlived its SIGKILL: {result.data or result.error}")
