"""Circuit breakers around outbound integration calls (calcom, retell, stripe, twilio, ...).

One pybreaker breaker per integration: after `MCP_CIRCUIT_FAILURE_THRESHOLD` consecutive
failures, calls fail at once with ServiceUnavailable ("<name> is temporarily unavailable") for
`MCP_CIRCUIT_RECOVERY_TIMEOUT` seconds, then one trial call decides. The call that reaches the
threshold still raises its own error; caller errors (`is_client_error`) are not failures.
State lives in Redis when configured; during a Redis outage each process keeps a local copy.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pybreaker
import redis
import structlog
from django.conf import settings
from redis.exceptions import RedisError

from common.errors import ApplicationError, ServiceUnavailable
from mcp_core.metrics import BREAKER_STATE_VALUES, CIRCUIT_BREAKER_STATE

T = TypeVar("T")
R = TypeVar("R")

KNOWN_INTEGRATIONS = ("calcom", "retell", "stripe", "twilio")

logger: Any = structlog.get_logger("askproai.mcp.breakers")

_REDIS_TIMEOUT_SECONDS = 0.5
_REDIS_RETRY_SECONDS = 5.0
_WARNING_INTERVAL_SECONDS = 30.0
_STORAGE_KEYS = ("state", "fail_counter", "success_counter", "opened_at")


def is_client_error(exc: BaseException) -> bool:
    """Whether `exc` is the caller's fault rather than the integration's.

    Such errors do not count as failures. An exception class decides for itself with a
    `client_error` class attribute; otherwise application errors with a 4xx status
    (validation, not found, conflict, ...) are client errors.
    """
    flagged = getattr(exc, "client_error", None)
    if flagged is not None:
        return bool(flagged)
    return isinstance(exc, ApplicationError) and 400 <= exc.http_status < 500


class _RedisLink:
    """Whether Redis is worth asking right now; shared by the breakers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._last_warning = -math.inf

    def available(self) -> bool:
        return time.monotonic() >= self._retry_at

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + _REDIS_RETRY_SECONDS
            if now - self._last_warning < _WARNING_INTERVAL_SECONDS:
                return
            self._last_warning = now
        logger.warning(
            "breakers.redis_unavailable",
            error=f"{exc.__class__.__name__}: {exc}",
            fallback="per-process breaker state",
        )

    def reset(self) -> None:
        with self._lock:
            self._retry_at = 0.0
            self._last_warning = -math.inf


_link = _RedisLink()


class _SharedStorage(pybreaker.CircuitRedisStorage):
    """`CircuitRedisStorage` that keeps a per-process copy and uses it while Redis is down.

    pybreaker's own storage swallows Redis errors by answering "closed, no failures", which
    would leave an outage of Redis and of the integration together unguarded, and lets the
    error of its constructor escape. Every write goes to both; state and opening time read
    from Redis refresh the copy, so a process that only watched carries on from what it saw.
    """

    def __init__(self, name: str, client: redis.Redis) -> None:
        self._local = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        super().__init__(pybreaker.STATE_CLOSED, client, namespace=_namespace(name))

    def _try(self, redis_op: Callable[[], R], fallback: Callable[[], R]) -> R:
        if _link.available():
            try:
                return redis_op()
            except (RedisError, OSError) as exc:
                _link.failed(exc)
        return fallback()

    def _initialize_redis_state(self, state: str) -> None:
        def initialize() -> None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.setnx(self._namespace("fail_counter"), 0)
            pipe.setnx(self._namespace("success_counter"), 0)
            pipe.setnx(self._namespace("state"), state)
            pipe.execute()

        self._try(initialize, lambda: None)

    @property
    def state(self) -> str:
        def read() -> str:
            raw = self._redis.get(self._namespace("state"))
            if raw is None:
                # Keys gone (flushed or reset): start over closed, as pybreaker does.
                self._initialize_redis_state(self._fallback_circuit_state)
                value = self._fallback_circuit_state
            else:
                value = raw.decode() if isinstance(raw, bytes) else str(raw)
            self._local.state = value
            return value

        return self._try(read, lambda: self._local.state)

    @state.setter
    def state(self, state: str) -> None:
        self._local.state = state
        self._try(lambda: self._redis.set(self._namespace("state"), state), lambda: None)

    def increment_counter(self) -> None:
        self._local.increment_counter()
        self._try(lambda: self._redis.incr(self._namespace("fail_counter")), lambda: None)

    def reset_counter(self) -> None:
        self._local.reset_counter()
        self._try(lambda: self._redis.set(self._namespace("fail_counter"), 0), lambda: None)

    def increment_success_counter(self) -> None:
        self._local.increment_success_counter()
        self._try(lambda: self._redis.incr(self._namespace("success_counter")), lambda: None)

    def reset_success_counter(self) -> None:
        self._local.reset_success_counter()
        self._try(lambda: self._redis.set(self._namespace("success_counter"), 0), lambda: None)

    @property
    def counter(self) -> int:
        return self._try(lambda: self._read_int("fail_counter"), lambda: self._local.counter)

    @property
    def success_counter(self) -> int:
        return self._try(
            lambda: self._read_int("success_counter"), lambda: self._local.success_counter
        )

    @property
    def opened_at(self) -> datetime | None:
        def read() -> datetime | None:
            raw = self._redis.get(self._namespace("opened_at"))
            if raw is None:
                return None
            opened_at = datetime.fromtimestamp(int(raw), UTC)
            self._local.opened_at = opened_at
            return opened_at

        return self._try(read, lambda: self._local.opened_at)

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._local.opened_at = now
        # pybreaker only ever moves this forward; a plain SET lets the latest opening count,
        # which is what the recovery time-out is measured from.
        self._try(
            lambda: self._redis.set(self._namespace("opened_at"), int(now.timestamp())),
            lambda: None,
        )

    def _read_int(self, key: str) -> int:
        raw = self._redis.get(self._namespace(key))
        return int(raw) if raw else 0


class _GaugeListener(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        name = cb.name or ""
        _set_gauge(name, new_state.name)
        previous = old_state.name if old_state is not None else None
        if new_state.name == pybreaker.STATE_OPEN:
            logger.warning("breakers.opened", integration=name, previous=previous)
        else:
            logger.info("breakers.state_changed", integration=name, state=new_state.name)


@dataclass(frozen=True)
class _Entry:
    breaker: pybreaker.CircuitBreaker
    storage: pybreaker.CircuitBreakerStorage


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}
_clients_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def get_breaker(name: str) -> pybreaker.CircuitBreaker:
    """The breaker of integration `name`, created on first use and kept for the process."""
    return _entry(name).breaker


def call_with_breaker(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn(*args, **kwargs)` through the breaker of integration `name`.

    Raises `ServiceUnavailable` without calling `fn` while the breaker is open; otherwise
    returns what `fn` returns or re-raises what it raised, unchanged.
    """
    entry = _entry(name)
    called = False

    def guarded() -> T:
        nonlocal called
        called = True
        return fn(*args, **kwargs)

    try:
        return entry.breaker.call(guarded)
    except pybreaker.CircuitBreakerError:
        if called:
            raise
        raise ServiceUnavailable(
            f"{name} is temporarily unavailable",
            details={"integration": name, "retry_after": _retry_after(entry)},
        ) from None


def breaker_states() -> dict[str, str]:
    """State of every breaker this process created plus the known integrations."""
    with _lock:
        names = sorted(set(KNOWN_INTEGRATIONS) | set(_entries))
    states = {}
    for name in names:
        state = get_breaker(name).current_state
        _set_gauge(name, state)
        states[name] = state
    return states


def reset_breakers(*, keep_shared_state: bool = False) -> None:
    """Forget the breakers of this process and their state (for tests).

    `keep_shared_state=True` leaves the Redis state alone, so the next breaker starts from it
    as a new process would.
    """
    with _lock:
        names = set(KNOWN_INTEGRATIONS) | set(_entries)
        _entries.clear()
    _link.reset()
    if keep_shared_state:
        return
    if settings.REDIS_URL:
        keys = [f"{_namespace(name)}:pybreaker:{key}" for name in names for key in _STORAGE_KEYS]
        try:
            _client().delete(*keys)
        except (RedisError, OSError) as exc:
            _link.failed(exc)
    for name in names:
        _set_gauge(name, pybreaker.STATE_CLOSED)


def _entry(name: str) -> _Entry:
    with _lock:
        entry = _entries.get(name)
        if entry is None:
            entry = _entries[name] = _build(name)
    return entry


def _build(name: str) -> _Entry:
    storage: pybreaker.CircuitBreakerStorage
    if settings.REDIS_URL:
        storage = _SharedStorage(name, _client())
    else:
        storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    breaker = pybreaker.CircuitBreaker(
        fail_max=settings.MCP_CIRCUIT_FAILURE_THRESHOLD,
        reset_timeout=settings.MCP_CIRCUIT_RECOVERY_TIMEOUT,
        # A predicate, not classes: pybreaker checks `type(exclusion) is type`, so an exception
        # class with a metaclass (ABCMeta) would be called instead of matched.
        exclude=[is_client_error],
        listeners=[_GaugeListener()],
        state_storage=storage,
        name=name,
        # Let the failure that trips the breaker surface as itself; only later calls are refused.
        throw_new_error_on_trip=False,
    )
    _set_gauge(name, breaker.current_state)
    return _Entry(breaker=breaker, storage=storage)


def _client() -> redis.Redis:
    """A client of its own: pybreaker's storage needs raw bytes and fails fast here."""
    url = settings.REDIS_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            )
    return client


def _retry_after(entry: _Entry) -> int:
    opened_at = entry.storage.opened_at
    timeout = entry.breaker.reset_timeout
    if opened_at is None:
        return max(1, math.ceil(timeout))
    remaining = (opened_at + timedelta(seconds=timeout) - datetime.now(UTC)).total_seconds()
    return max(1, math.ceil(remaining))


def _namespace(name: str) -> str:
    return f"askproai:breaker:{name}"


def _set_gauge(name: str, state: str) -> None:
    CIRCUIT_BREAKER_STATE.labels(service=name).set(BREAKER_STATE_VALUES[state])
