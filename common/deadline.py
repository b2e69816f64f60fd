"""The time budget of the call this thread is serving (MCP_TIMEOUT), for the layers below the
orchestrator: the saga checks it between steps, integration clients cap their HTTP time-outs
by it, and `statements_bounded` refuses database work once it is spent (why and how it ends:
docs/architecture.md, "Time budget").

Outside a call (Celery, manage.py, the admin) there is no budget and nothing here limits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from django.db import DatabaseError, connection

from common.errors import ServiceUnavailable

logger: Any = structlog.get_logger("askproai.mcp")

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


@contextmanager
def statements_bounded(set_timeout: Callable[[int | None], None]) -> Iterator[None]:
    """No statement of the block outlives the budget: PostgreSQL cancels one running past it
    (`set_timeout(milliseconds)` sets statement_timeout before the block's first statement, so
    a call that reads only the cache pays nothing; `set_timeout(None)` resets it) and none
    starts once it is spent. The per-statement check runs here, inside this module, because
    Django calls it for every statement."""
    bounded = False

    def guard(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        nonlocal bounded
        left = remaining()
        if left is not None and left <= 0:
            raise timed_out("a database statement")
        if not bounded and left is not None and connection.vendor == "postgresql":
            bounded = True
            set_timeout(max(1, math.ceil(left * 1000)))
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            if cancelled_for_time(exc) and _deadline.get() is not None:
                raise timed_out("a database statement") from exc
            raise

    try:
        with connection.execute_wrapper(guard):
            yield
    finally:
        if bounded:
            try:
                set_timeout(None)
            except DatabaseError:
                # A broken connection is closed and replaced; its setting goes with it.
                logger.warning("mcp.statement_timeout_reset_failed")


def cancelled_for_time(exc: Exception) -> bool:
    """PostgreSQL cancelled the statement for its statement_timeout."""
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code == QUERY_CANCELED
