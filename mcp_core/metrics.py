"""Prometheus metrics named as in docs/contract.md

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory) so
`/metrics` aggregates every worker; without it each process reports its own numbers.
"""

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from mcp_core.operations import registry

UNKNOWN = "unknown"
_Metric = TypeVar("_Metric", bound=MetricWrapperBase)


class OperationLabelled(Generic[_Metric]):
    """A metric labelled by service and operation that takes only registered names.

    The names come from the caller (an MCP tool name, a REST body); `/metrics` is served without
    authentication, so an invented name is counted as `unknown` instead of adding a series.
    """

    def __init__(self, metric: _Metric) -> None:
        self._metric = metric

    def labels(self, *, service: str, operation: str, **others: str) -> _Metric:
        if registry.get(f"{service}.{operation}") is None:
            known_service = any(op.name.startswith(f"{service}.") for op in registry)
            service, operation = (service if known_service else UNKNOWN), UNKNOWN
        labelled: _Metric = self._metric.labels(service=service, operation=operation, **others)
        return labelled

    def collect(self) -> Iterable[Any]:
        return self._metric.collect()


REQUESTS_TOTAL = OperationLabelled(
    Counter(
        "mcp_requests_total",
        "Operations executed by the orchestrator, by outcome ('success' or the error type).",
        ["service", "operation", "status"],
    )
)
REQUEST_DURATION = OperationLabelled(
    Histogram(
        "mcp_request_duration_seconds",
        "Time the orchestrator spent on an operation, validation to result.",
        ["service", "operation"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    )
)
CIRCUIT_BREAKER_STATE = Gauge(
    "mcp_circuit_breaker_state",
    "Circuit breaker state per integration: 0 closed, 1 open, 2 half-open.",
    ["service"],
    multiprocess_mode="livemax",
)
ACTIVE_CONNECTIONS = Gauge(
    "mcp_active_connections",
    "Requests currently inside the orchestrator.",
    multiprocess_mode="livesum",
)

BREAKER_STATE_VALUES = {"closed": 0, "open": 1, "half-open": 2}
