"""The orchestrator: the one path every tool call takes, whichever front door it came through.

    resolve → rate limit → validate → authorise → run (time budget, span) → shape → record

Rate limiting comes before validation on purpose: every authenticated call costs us work, so
every one counts, and every answer (even a validation error) can carry X-RateLimit-* headers.
Failures never escape as exceptions: `execute` returns a `CallResult` holding either the
shaped output or an `ApplicationError`, which each front door renders its own way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, InterfaceError, OperationalError
from pydantic import BaseModel, ValidationError

from common import deadline
from common.errors import (
    ApplicationError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from mcp_core import metrics
from mcp_core.auth import Principal
from mcp_core.health import health_report
from mcp_core.observability import logger, new_correlation_id, report_exception, tracer
from mcp_core.operations import CallContext, Operation, registry
from mcp_core.permissions import role_allows
from mcp_core.queries import statement_timeout_set
from mcp_core.ratelimit import RateLimitDecision, raise_if_refused, rate_limit_hit


@dataclass(frozen=True)
class CallResult:
    name: str
    correlation_id: str
    duration: float
    data: dict[str, Any] | None = None
    error: ApplicationError | None = None
    rate_limit: RateLimitDecision | None = None
    operation: Operation | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def headers(self) -> dict[str, str]:
        headers = {"X-Correlation-ID": self.correlation_id}
        if self.rate_limit is not None:
            headers.update(self.rate_limit.headers())
        return headers


def validation_details(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic errors as the contract's `details`: field path → messages."""
    details: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or "params"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "Unknown field."
        details.setdefault(field, []).append(message)
    return details


def execute(
    principal: Principal,
    service: str,
    operation: str,
    args: Any,
    *,
    correlation_id: str | None = None,
    source: str = "api",
) -> CallResult:
    """Run `service.operation` for the principal's tenant. Never raises."""
    name = f"{service}.{operation}"
    op = registry.get(name)

    def run(call_correlation_id: str) -> dict[str, Any]:
        if op is None:  # not reached: run_guarded refuses an unknown name first
            raise NotFound()
        return _run(op, principal, args, call_correlation_id, source)

    return run_guarded(
        principal,
        name,
        run,
        limit_service=op.service if op is not None else None,
        correlation_id=correlation_id,
        source=source,
        operation=op,
    )


def run_guarded(
    principal: Principal,
    name: str,
    run: Callable[[str], dict[str, Any]],
    *,
    limit_service: str | None,
    correlation_id: str | None = None,
    source: str = "api",
    operation: Operation | None = None,
) -> CallResult:
    """The frame every call runs in, ours and federated ones (mcp_core.federation): span,
    rate limit of the tenant (counted against `limit_service`; None: the name is unknown),
    error mapping, metrics and the log line. `run(correlation_id)` does the rest. Never
    raises."""
    correlation_id = new_correlation_id(correlation_id)
    started = time.perf_counter()
    decision: RateLimitDecision | None = None
    data: dict[str, Any] | None = None
    error: ApplicationError | None = None
    metrics.ACTIVE_CONNECTIONS.inc()
    try:
        with tracer.start_as_current_span(f"mcp {name}") as span:
            span.set_attribute("mcp.operation", name)
            span.set_attribute("mcp.tenant_id", principal.tenant.pk)
            span.set_attribute("mcp.correlation_id", correlation_id)
            try:
                if limit_service is None:
                    raise NotFound(f"Unknown operation '{name}'.", details={"operation": name})
                decision = rate_limit_hit(
                    tenant_id=principal.tenant.pk,
                    limit=principal.tenant.api_calls_per_hour,
                    service=limit_service,
                )
                raise_if_refused(decision)
                data = run(correlation_id)
            except ApplicationError as exc:
                error = exc
            except ObjectDoesNotExist:
                error = NotFound()
            except (OperationalError, InterfaceError) as exc:
                if deadline.cancelled_for_time(exc):
                    error = ServiceUnavailable("The operation hit its time budget (timeout).")
                else:
                    error = ServiceUnavailable("The database is unavailable; try again shortly.")
                logger.error("mcp.database_unavailable", error=str(exc))
            except DatabaseError as exc:
                error = _internal(exc, name, correlation_id)
            except Exception as exc:
                error = _internal(exc, name, correlation_id)
            if error is not None:
                span.set_attribute("mcp.error_type", error.error_type.name)
    finally:
        metrics.ACTIVE_CONNECTIONS.dec()
    duration = time.perf_counter() - started
    _record(name, principal, source, correlation_id, duration, error)
    return CallResult(
        name=name,
        correlation_id=correlation_id,
        duration=duration,
        data=data,
        error=error,
        rate_limit=decision,
        operation=operation,
    )


def execute_named(principal: Principal, name: str, args: Any, **kwargs: Any) -> CallResult:
    """`execute` for a dotted name such as 'booking.createBooking'."""
    service, _, operation = name.partition(".")
    return execute(principal, service, operation, args, **kwargs)


def _run(
    op: Operation, principal: Principal, args: Any, correlation_id: str, source: str
) -> dict[str, Any]:
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValidationFailed(
            "The arguments must be a JSON object.", details={"params": ["Must be an object."]}
        )
    try:
        typed_args = op.input.model_validate(args)
    except ValidationError as exc:
        raise ValidationFailed(
            f"Invalid arguments for {op.name}.", details=validation_details(exc)
        ) from exc
    if not role_allows(principal.role, op.permission):
        raise PermissionDenied(
            f"The role '{principal.role}' may not call {op.name}.",
            details={"required_permission": str(op.permission), "role": principal.role},
        )
    if not principal.may_use(op.service):
        raise PermissionDenied(
            f"The token's scopes do not include the service '{op.service}'.",
            details={"required_scope": op.service},
        )
    ctx = CallContext(
        tenant=principal.tenant,
        role=principal.role,
        actor=principal.actor,
        correlation_id=correlation_id,
        source=source,
        deadline=time.monotonic() + settings.MCP_TIMEOUT,
        api_key_id=principal.api_key_id,
    )
    with (
        deadline.bounded(ctx.deadline, settings.MCP_TIMEOUT),
        deadline.statements_bounded(statement_timeout_set),
    ):
        result = op.handler(ctx, typed_args)
    shaped = result if isinstance(result, op.output) else op.output.model_validate(result)
    if ctx.remaining() <= 0:
        logger.warning("mcp.time_budget_exceeded", operation=op.name, budget=settings.MCP_TIMEOUT)
    return _dump(shaped)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _internal(exc: BaseException, name: str, correlation_id: str) -> ApplicationError:
    logger.exception("mcp.unexpected_error", operation=name, correlation_id=correlation_id)
    report_exception(exc)
    return ApplicationError("An internal error occurred; it has been logged.")


def _record(
    name: str,
    principal: Principal,
    source: str,
    correlation_id: str,
    duration: float,
    error: ApplicationError | None,
) -> None:
    service, _, operation = name.partition(".")
    status = "success" if error is None else error.error_type.name
    if settings.MCP_METRICS_ENABLED:
        metrics.REQUESTS_TOTAL.labels(service=service, operation=operation, status=status).inc()
        metrics.REQUEST_DURATION.labels(service=service, operation=operation).observe(duration)
    logger.info(
        "mcp.call",
        operation=name,
        tenant_id=principal.tenant.pk,
        actor=principal.actor,
        source=source,
        status=status,
        duration_ms=round(duration * 1000, 2),
        correlation_id=correlation_id,
    )


def check_deadline(ctx: CallContext, step: str) -> None:
    """For long handlers between steps: give up cleanly once the time budget is spent.

    Raises ServiceUnavailable("... timeout").
    """
    if ctx.remaining() <= 0:
        with deadline.bounded(ctx.deadline, settings.MCP_TIMEOUT):
            raise deadline.timed_out(step)


def health_check() -> dict[str, Any]:
    """The health check: database, cache, broker, integrations and their breakers."""
    return health_report()


def get_metrics() -> dict[str, Any]:
    """Metrics: calls, errors and mean duration per operation in this process
    (Prometheus at /metrics has the full series, across workers when multiprocess is on)."""
    calls: dict[str, dict[str, Any]] = {}
    for metric in metrics.REQUESTS_TOTAL.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total"):
                continue
            name = f"{sample.labels['service']}.{sample.labels['operation']}"
            entry = calls.setdefault(name, {"calls": 0, "errors": {}, "mean_duration_ms": None})
            entry["calls"] += int(sample.value)
            if sample.labels["status"] != "success":
                entry["errors"][sample.labels["status"]] = int(sample.value)
    for metric in metrics.REQUEST_DURATION.collect():
        sums = {
            f"{s.labels['service']}.{s.labels['operation']}": s.value
            for s in metric.samples
            if s.name.endswith("_sum")
        }
        counts = {
            f"{s.labels['service']}.{s.labels['operation']}": s.value
            for s in metric.samples
            if s.name.endswith("_count")
        }
        for name, total in sums.items():
            if name in calls and counts.get(name):
                calls[name]["mean_duration_ms"] = round(total / counts[name] * 1000, 3)
    return {
        "operations": dict(sorted(calls.items())),
        "total_calls": sum(entry["calls"] for entry in calls.values()),
        "total_errors": sum(sum(entry["errors"].values()) for entry in calls.values()),
    }
