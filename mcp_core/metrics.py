"""Prometheus metrics named as in docs/contract.md

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory) so
`/metrics` aggregates every worker; without it each process reports its own numbers.
"""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS_TOTAL = Counter(
    "mcp_requests_total",
    "Operations executed by the orchestrator, by outcome ('success' or the error type).",
    ["service", "operation", "status"],
)
REQUEST_DURATION = Histogram(
    "mcp_request_duration_seconds",
    "Time the orchestrator spent on an operation, validation to result.",
    ["service", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
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
