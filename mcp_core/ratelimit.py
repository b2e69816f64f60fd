"""Per-tenant rate limits: a fixed, aligned window per plan, plus optional per-service limits.

Counters live in Redis when `REDIS_URL` is set (one pipelined INCR + EXPIRE per counter, keys
`askproai:rl:{tenant_id}[:svc:{service}]:{window_start}`), else in this process. A Redis
failure falls back to the process's counter for that call and never reaches the caller.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from redis.exceptions import RedisError

from common.errors import RateLimitExceeded

logger: Any = structlog.get_logger("askproai.mcp.ratelimit")

TENANT_SCOPE = "tenant"
PHONE_SCOPE = "phone"
UNLIMITED = -1  # a limit of -1 counts but never refuses
# Keys outlive their window a little so a slow clock on one host cannot drop a live counter.
_EXPIRY_MARGIN_SECONDS = 60
_WARNING_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    retry_after: int
    scope: str

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimitRefused(RateLimitExceeded):
    """`RateLimitExceeded` that keeps its decision, so front doors can add the headers."""

    def __init__(self, decision: RateLimitDecision) -> None:
        window = _window_seconds()
        where = "this tenant" if decision.scope == TENANT_SCOPE else decision.scope
        super().__init__(
            f"Rate limit of {decision.limit} calls per {window} seconds exceeded for {where}; "
            f"retry in {decision.retry_after} seconds.",
            details={
                "limit": decision.limit,
                "window_seconds": window,
                "retry_after": decision.retry_after,
                "scope": decision.scope,
            },
        )
        self.decision = decision


# The budget the calls of this request count against: None is the tenant's plan budget (API
# clients, MCP); PHONE_SCOPE is the phone line's own (docs/architecture.md, "The phone line
# keeps its own rate-limit budget").
_budget: ContextVar[str | None] = ContextVar("askproai_rate_limit_budget", default=None)


@contextmanager
def phone_line_budget() -> Iterator[None]:
    """Count the operations run inside against the tenant's phone-line budget
    (MCP_RATE_LIMIT_PHONE per window), not the plan's API budget."""
    token = _budget.set(PHONE_SCOPE)
    try:
        yield
    finally:
        _budget.reset(token)


@dataclass(frozen=True)
class _Counter:
    scope: str
    key: str
    limit: int


class _LocalCounts:
    """Counters of this process, for when there is no Redis or it is unreachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[int, dict[str, int]] = {}

    def incr(self, keys: list[str], window_start: int) -> list[int]:
        with self._lock:
            for stale in [start for start in self._windows if start < window_start]:
                del self._windows[stale]
            counts = self._windows.setdefault(window_start, {})
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
            return [counts[key] for key in keys]

    def get(self, key: str, window_start: int) -> int:
        with self._lock:
            return self._windows.get(window_start, {}).get(key, 0)

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


_local = _LocalCounts()
_warning_lock = threading.Lock()
_last_warning = -math.inf


def rate_limit_hit(
    *, tenant_id: int, limit: int, service: str, now: float | None = None
) -> RateLimitDecision:
    """Count one call of `tenant_id` to `service` and decide whether it may run; `limit` is
    the tenant's calls per window (UNLIMITED for none).

    Never raises: Redis failures fall back to the in-process counter (see the module docstring).
    """
    now = time.time() if now is None else now
    window = _window_seconds()
    window_start = _window_start(now, window)
    reset_at = window_start + window

    budget = _budget.get()
    counters = [
        _Counter(
            TENANT_SCOPE,
            _tenant_key(tenant_id, window_start),
            limit,
        )
        if budget is None
        else _Counter(
            budget,
            f"askproai:rl:{tenant_id}:{budget}:{window_start}",
            settings.MCP_RATE_LIMIT_PHONE,
        )
    ]
    service_limit = _service_limits().get(service) if budget is None else None
    if service_limit is not None:
        counters.append(
            _Counter(
                f"service:{service}",
                f"askproai:rl:{tenant_id}:svc:{service}:{window_start}",
                service_limit,
            )
        )

    counts = _increment([c.key for c in counters], window_start, ttl=reset_at - now)

    exceeded = [
        c for c, n in zip(counters, counts, strict=True) if c.limit != UNLIMITED and n > c.limit
    ]
    if exceeded:
        deciding = exceeded[0]
        return RateLimitDecision(
            allowed=False,
            limit=deciding.limit,
            remaining=0,
            reset_at=reset_at,
            retry_after=max(1, math.ceil(reset_at - now)),
            scope=deciding.scope,
        )
    limited = [(c, c.limit - n) for c, n in zip(counters, counts, strict=True) if c.limit >= 0]
    if not limited:
        return RateLimitDecision(
            allowed=True,
            limit=UNLIMITED,
            remaining=UNLIMITED,
            reset_at=reset_at,
            retry_after=0,
            scope=TENANT_SCOPE,
        )
    # min() keeps the first of equals, so the tenant counter wins a tie.
    tightest, remaining = min(limited, key=lambda pair: pair[1])
    return RateLimitDecision(
        allowed=True,
        limit=tightest.limit,
        remaining=remaining,
        reset_at=reset_at,
        retry_after=0,
        scope=tightest.scope,
    )


def rate_limit_usage(*, tenant_id: int, now: float | None = None) -> int:
    """Calls of `tenant_id` counted in the current window, refused ones included."""
    now = time.time() if now is None else now
    window_start = _window_start(now, _window_seconds())
    key = _tenant_key(tenant_id, window_start)
    if settings.REDIS_URL:
        try:
            value = _redis().get(key)
        except (RedisError, OSError) as exc:
            _warn_redis_unavailable(exc)
        else:
            return int(value) if value is not None else 0
    return _local.get(key, window_start)


def reset_local_counts() -> None:
    """Forget this process's counters (tests; Redis counters are untouched)."""
    _local.clear()


def raise_if_refused(decision: RateLimitDecision) -> None:
    """Raise `RateLimitExceeded` (carrying `decision`) when the call was refused."""
    if not decision.allowed:
        raise RateLimitRefused(decision)


def _increment(keys: list[str], window_start: int, *, ttl: float) -> list[int]:
    if settings.REDIS_URL:
        expiry = math.ceil(ttl) + _EXPIRY_MARGIN_SECONDS
        try:
            pipe = _redis().pipeline(transaction=False)
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, expiry)
            results = pipe.execute()
        except (RedisError, OSError) as exc:
            _warn_redis_unavailable(exc)
        else:
            return [int(count) for count in results[::2]]
    return _local.incr(keys, window_start)


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _warn_redis_unavailable(exc: BaseException) -> None:
    global _last_warning
    with _warning_lock:
        now = time.monotonic()
        if now - _last_warning < _WARNING_INTERVAL_SECONDS:
            return
        _last_warning = now
    logger.warning(
        "ratelimit.redis_unavailable",
        error=f"{exc.__class__.__name__}: {exc}",
        fallback="in-process counter",
    )


def _window_seconds() -> int:
    return int(settings.MCP_RATE_LIMIT_WINDOW)


def _window_start(now: float, window: int) -> int:
    return int(now // window) * window


def _tenant_key(tenant_id: int, window_start: int) -> str:
    return f"askproai:rl:{tenant_id}:{window_start}"


def _service_limits() -> dict[str, int]:
    configured = settings.MCP_SERVICE_RATE_LIMITS or {}
    return {str(name): int(limit) for name, limit in configured.items()}
