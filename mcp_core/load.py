"""Budgets per kind of caller and the load they are judged by (docs/architecture.md, "Load
shedding").

Each kind of caller — the phone line (Retell), the admin, API clients — has its own number of
requests in flight per worker (LOAD_SHED_SLOTS), so one kind cannot take the others' threads.
Load is measured in-process: an average of request latency that fades when no request ends.
At or above LOAD_SHED_LATENCY_TARGET API clients get a quarter of their slots, at twice it none;
the phone line is never shed for load.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from prometheus_client import Counter, Gauge

PHONE, ADMIN, API = "phone", "admin", "api"
KINDS = (PHONE, ADMIN, API)
REASON_BUDGET, REASON_LATENCY, REASON_OVER_LIMIT = "budget", "latency", "over_limit"
_ALPHA = 0.2  # weight of the newest latency in the average
_HALF_LIFE_SECONDS = 2.0  # with no request ending, the average halves this often

SHED_TOTAL = Counter(
    "mcp_requests_shed_total",
    "Requests refused with 429 before any work, by kind of caller and reason ('budget': the "
    "kind's requests in flight; 'latency': shed for load; 'over_limit': a REST key refused "
    "for its plan's rate limit moments ago).",
    ["caller", "reason"],
)
LOAD_PRESSURE = Gauge(
    "mcp_load_pressure",
    "Average request latency over LOAD_SHED_LATENCY_TARGET (1 = at the target).",
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


class LoadMonitor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = dict.fromkeys(KINDS, 0)
        self._average = 0.0
        self._observed_at = time.monotonic()

    def observe(self, seconds: float) -> None:
        """Fold one finished request's latency into the average."""
        with self._lock:
            current = self._faded(time.monotonic())
            self._average = current + _ALPHA * (seconds - current)
            self._observed_at = time.monotonic()
        LOAD_PRESSURE.set(self.pressure())

    def pressure(self) -> float:
        with self._lock:
            average = self._faded(time.monotonic())
        return average / max(settings.LOAD_SHED_LATENCY_TARGET, 1e-6)

    def slots(self, kind: str, *, adaptive: bool) -> int:
        """The kind's requests in flight allowed now; `adaptive`: shrunk for load."""
        configured = int(settings.LOAD_SHED_SLOTS.get(kind, 0))
        if not adaptive or kind != API:
            return configured
        pressure = self.pressure()
        if pressure >= 2:
            return 0
        if pressure >= 1:
            return max(1, configured // 4)
        return configured

    def try_enter(self, kind: str, *, adaptive: bool) -> Admission:
        """Take one of the kind's slots, or say why not (the caller answers 429)."""
        allowed = self.slots(kind, adaptive=adaptive)
        with self._lock:
            if self._in_flight[kind] < allowed:
                self._in_flight[kind] += 1
                admitted = Admission(True, kind)
            else:
                budget = int(settings.LOAD_SHED_SLOTS.get(kind, 0))
                reason = REASON_LATENCY if allowed < budget else REASON_BUDGET
                pressure = self._faded(time.monotonic()) / settings.LOAD_SHED_LATENCY_TARGET
                admitted = Admission(False, kind, reason, pressure)
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


monitor = LoadMonitor()


def reset_load() -> None:
    """Forget this process's load (tests)."""
    monitor.reset()
