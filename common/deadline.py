"""The time budget of the call this thread is serving (MCP_TIMEOUT), for the layers below the
orchestrator: the saga checks it between steps, integration clients cap their HTTP time-outs
by it, and `guard_statements` refuses database work once it is spent (why and how it ends:
docs/architecture.md, "Time budget").

Outside a call (Celery, manage.py, the admin) there is no budget and nothing here limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from common.errors import ServiceUnavailable

# time.monotonic() by which the current call must be done; None: no budget.
_deadline: ContextVar[float | None] = ContextVar("askproai_deadline", default=None)
_budget: ContextVar[float] = ContextVar("askproai_budget", default=0.0)

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"


@contextmanager
def bounded(deadline: float, budget: float) -> Iterator[None]:
    """Run the block under `deadline` (a time.monotonic() value); `budget` is the whole
    allowance in seconds, for the error's details."""
    token, budget_token = _deadline.set(deadline), _budget.set(budget)
    try:
        yield
    finally:
        _deadline.reset(token)
        _budget.reset(budget_token)


@contextmanager
def lifted() -> Iterator[None]:
    """Run the block without a budget: past a saga's point of no return the call must finish
    what it committed to rather than stop half-way."""
    token = _deadline.set(None)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left (never negative), None without a budget."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def timed_out(step: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The operation hit its time budget (timeout) during {step}.",
        details={"timeout_seconds": _budget.get(), "step": step},
    )


def check(step: str) -> None:
    """Raises ServiceUnavailable ("... timeout") once the budget is spent."""
    left = remaining()
    if left is not None and left <= 0:
        raise timed_out(step)


def cap(timeout: float) -> float:
    """`timeout` (seconds) shortened to what is left of the budget. Raises ServiceUnavailable
    when nothing is left: a request that cannot finish in time is not started."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise timed_out("an integration call")
    return min(timeout, left)


def guard_statements(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A `connection.execute_wrapper`: no statement starts once the budget is spent, and a
    statement PostgreSQL cancelled for the statement_timeout the orchestrator set answers as
    the timeout it is. Raises ServiceUnavailable."""
    check("a database statement")
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        cause = exc.__cause__
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if code == QUERY_CANCELED and _deadline.get() is not None:
            raise timed_out("a database statement") from exc
        raise
