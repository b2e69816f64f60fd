"""Budgets per kind of caller and the load they are judged by (docs/architecture.md, "Load
shedding").

Each kind of caller — the phone line (Retell), the admin, API clients — has its own number of
requests in flight per worker (LOAD_SHED_SLOTS), so one kind cannot take the others' threads.
Load is measured in-process, as the larger of two pressures (1 = at the target):
- latency: an average of request latency that fades when no request ends, over
  LOAD_SHED_LATENCY_TARGET;
- database: this database's busy sessions (running, waiting for a lock, or idle in a
  transaction: each holds a connection) over LOAD_SHED_DB_SESSIONS_TARGET, from
  pg_stat_activity, sampled at most every LOAD_SHED_DB_SAMPLE_SECONDS per process by one
  thread (the others read the last sample); a database that refuses the sample is saturated.
At pressure 1 API clients get a quarter of their slots, at 2 none, and the admin a quarter of
its slots (at least one: the kill switch lives there); the phone line is never shed for load.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from prometheus_client import Counter, Gauge

from mcp_core.observability import logger
from mcp_core.queries import database_busy_sessions

PHONE, ADMIN, API = "phone", "admin", "api"
KINDS = (PHONE, ADMIN, API)
REASON_BUDGET, REASON_LATENCY, REASON_OVER_LIMIT = "budget", "latency", "over_limit"
REASON_DATABASE = "database"
SATURATED = 2.0  # the database pressure when it refuses the sample
_ALPHA = 0.2  # weight of the newest latency in the average
_HALF_LIFE_SECONDS = 2.0  # with no request ending, the average halves this often

SHED_TOTAL = Counter(
    "mcp_requests_shed_total",
    "Requests refused with 429 before any work, by kind of caller and reason ('budget': the "
    "kind's requests in flight; 'latency', 'database': shed for load, named by the larger "
    "pressure; 'over_limit': a REST key refused for its plan's rate limit moments ago).",
    ["caller", "reason"],
)
LOAD_PRESSURE = Gauge(
    "mcp_load_pressure",
    "Average request latency over LOAD_SHED_LATENCY_TARGET (1 = at the target).",
    multiprocess_mode="livemax",
)
DB_PRESSURE = Gauge(
    "mcp_db_pressure",
    "The database's busy sessions over LOAD_SHED_DB_SESSIONS_TARGET (1 = at the target).",
    multiprocess_mode="livemax",
)
IN_FLIGHT = Gauge(
    "mcp_requests_in_flight",
    "Requests in flight per kind of caller.",
    ["caller"],
    multiprocess_mode="livesum",
)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    kind: str
    reason: str = ""
    pressure: float = 0.0


@dataclass(frozen=True)
class Strain:
    pressure: float
    reason: str  # REASON_LATENCY or REASON_DATABASE: the larger pressure


class DatabaseSampler:
    """The database pressure of this process: busy sessions over the target, sampled at most
    every LOAD_SHED_DB_SAMPLE_SECONDS (the request that finds the sample old takes it)."""

    def __init__(self) -> None:
        self._sampling = threading.Lock()
        self._pressure = 0.0
        self._sampled_at = -math.inf

    def pressure(self) -> float:
        target = int(settings.LOAD_SHED_DB_SESSIONS_TARGET)
        if target <= 0:
            return 0.0
        now = time.monotonic()
        if now - self._sampled_at < settings.LOAD_SHED_DB_SAMPLE_SECONDS:
            return self._pressure
        if not self._sampling.acquire(blocking=False):
            return self._pressure  # another thread is sampling: its answer comes shortly
        try:
            self._sampled_at = now
            try:
                busy = database_busy_sessions()
            except DatabaseError as exc:  # no connection to be had: saturated, or down
                logger.warning("load.db_sample_failed", error=f"{exc.__class__.__name__}: {exc}")
                self._pressure = SATURATED
            except Exception as exc:  # not the database's answer: no signal, never a 500
                logger.warning("load.db_sample_failed", error=f"{exc.__class__.__name__}: {exc}")
                self._pressure = 0.0
            else:
                self._pressure = 0.0 if busy is None else busy / target
            DB_PRESSURE.set(self._pressure)
            return self._pressure
        finally:
            self._sampling.release()

    def reset(self) -> None:
        self._pressure = 0.0
        self._sampled_at = -math.inf


class LoadMonitor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = dict.fromkeys(KINDS, 0)
        self._average = 0.0
        self._observed_at = time.monotonic()
        self.database = DatabaseSampler()

    def observe(self, seconds: float) -> None:
        """Fold one finished request's latency into the average."""
        with self._lock:
            current = self._faded(time.monotonic())
            self._average = current + _ALPHA * (seconds - current)
            self._observed_at = time.monotonic()
        LOAD_PRESSURE.set(self.pressure())

    def pressure(self) -> float:
        """The latency pressure."""
        with self._lock:
            average = self._faded(time.monotonic())
        return average / max(settings.LOAD_SHED_LATENCY_TARGET, 1e-6)

    def strain(self) -> Strain:
        """The load now: the larger of the latency and the database pressure."""
        latency, database = self.pressure(), self.database.pressure()
        if database > latency:
            return Strain(database, REASON_DATABASE)
        return Strain(latency, REASON_LATENCY)

    def slots(self, kind: str, *, adaptive: bool, pressure: float | None = None) -> int:
        """The kind's requests in flight allowed now; `adaptive`: shrunk for load (API clients
        from pressure 1, the admin from 2, the phone line never)."""
        configured = int(settings.LOAD_SHED_SLOTS.get(kind, 0))
        if not adaptive or kind == PHONE:
            return configured
        if pressure is None:
            pressure = self.strain().pressure
        if kind == ADMIN:
            return max(1, configured // 4) if pressure >= 2 else configured
        if pressure >= 2:
            return 0
        if pressure >= 1:
            return max(1, configured // 4)
        return configured

    def try_enter(self, kind: str, *, adaptive: bool, strain: Strain | None = None) -> Admission:
        """Take one of the kind's slots, or say why not (the caller answers 429). `strain`:
        the load the caller judged `adaptive` by (measured now when None)."""
        if strain is None:
            strain = self.strain() if adaptive else Strain(0.0, REASON_LATENCY)
        allowed = self.slots(kind, adaptive=adaptive, pressure=strain.pressure)
        with self._lock:
            if self._in_flight[kind] < allowed:
                self._in_flight[kind] += 1
                admitted = Admission(True, kind)
            else:
                budget = int(settings.LOAD_SHED_SLOTS.get(kind, 0))
                reason = strain.reason if allowed < budget else REASON_BUDGET
                admitted = Admission(False, kind, reason, strain.pressure)
        if admitted.admitted:
            IN_FLIGHT.labels(caller=kind).inc()
        else:
            SHED_TOTAL.labels(caller=kind, reason=admitted.reason).inc()
        return admitted

    def leave(self, kind: str) -> None:
        with self._lock:
            self._in_flight[kind] = max(0, self._in_flight[kind] - 1)
        IN_FLIGHT.labels(caller=kind).dec()

    def in_flight(self, kind: str) -> int:
        with self._lock:
            return self._in_flight[kind]

    def _faded(self, now: float) -> float:
        idle = max(0.0, now - self._observed_at)
        return self._average * math.pow(0.5, idle / _HALF_LIFE_SECONDS)

    def reset(self) -> None:
        with self._lock:
            self._in_flight = dict.fromkeys(KINDS, 0)
            self._average = 0.0
            self._observed_at = time.monotonic()
        self.database.reset()


monitor = LoadMonitor()


def reset_load() -> None:
    """Forget this process's load (tests)."""
    monitor.reset()
