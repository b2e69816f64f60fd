"""In-process domain events (the seed's MCPEventDispatcher, section 2.2), without Django signals.

A service calls `dispatch("booking.created", {...})` inside its transaction; every listener of
that event runs once the transaction commits, so none reacts to a write that was rolled back.
Outside a transaction listeners run at once. A listener that raises is logged with its
exception and affects neither the caller nor the other listeners. Listeners that do slow work
(HTTP, SMS) should queue a Celery task rather than do it inline.

Register listeners at module level in a module imported at start-up::

    events.listen("booking.created", send_confirmation)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    payload: Mapping[str, Any]


Listener = Callable[[Event], None]


class EventDispatcher:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def listen(self, event_name: str, listener: Listener) -> None:
        """Call `listener(event)` after each commit that dispatched `event_name`.

        Registering the same listener twice for one event has no further effect."""
        listeners = self._listeners.setdefault(event_name, [])
        if listener not in listeners:
            listeners.append(listener)

    def dispatch(self, event_name: str, payload: Mapping[str, Any]) -> None:
        """Schedule every listener registered now for `event_name` to run after the current
        transaction commits (at once outside one). Raises nothing a listener raises."""
        # A read-only copy: a listener can neither change what the next one sees nor be
        # surprised by the caller changing the dict before the commit.
        event = Event(event_name, MappingProxyType(dict(payload)))
        for listener in tuple(self._listeners.get(event_name, ())):
            transaction.on_commit(partial(_call, listener, event), robust=True)


def _call(listener: Listener, event: Event) -> None:
    try:
        listener(event)
    except Exception:
        logger.exception(
            "event listener %s failed for %s",
            getattr(listener, "__qualname__", repr(listener)),
            event.name,
        )


dispatcher = EventDispatcher()
listen = dispatcher.listen
dispatch = dispatcher.dispatch
