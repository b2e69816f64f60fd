"""Reporting reads on a read replica; every other read and every write on the primary.

A router sees a model, not a purpose, so the purpose is declared: code inside `reporting_reads()`
(or a function decorated `@reporting_read`) reads from the "replica" database when one is
configured. Availability and booking never enter it — a replica that lags would offer a slot
that is already taken.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.conf import settings

REPLICA = "replica"
_reporting: ContextVar[bool] = ContextVar("reporting_reads", default=False)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def reporting_reads() -> Iterator[None]:
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reporting_read(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reporting_reads():
            return function(*args, **kwargs)

    return wrapper


class ReportingReplicaRouter:
    """DATABASE_ROUTERS entry: reads in `reporting_reads()` go to the replica when configured."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if _reporting.get() and REPLICA in settings.DATABASES:
            return REPLICA
        return None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: an object read there relates to one read here.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"
