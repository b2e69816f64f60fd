"""Structured logs with the correlation id, OpenTelemetry spans, Sentry — configured once at start.

- Logs: one JSON line per event (structlog), carrying the correlation id bound for the request.
- Tracing: spans through the OpenTelemetry API always; exported (OTLP/HTTP) only when
  OTEL_EXPORTER_OTLP_ENDPOINT is set and MCP_TRACING_ENABLED, sampled at MCP_TRACING_SAMPLE_RATE.
- Errors: Sentry when SENTRY_DSN is set.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import structlog
from django.conf import settings
from opentelemetry import trace

_configured = False
CORRELATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

logger: Any = structlog.get_logger("askproai.mcp")
tracer = trace.get_tracer("askproai.mcp")


def new_correlation_id(given: str | None = None) -> str:
    """The caller's id when it is a sane token, else a fresh one (never trust it as is)."""
    if given and CORRELATION_ID_PATTERN.match(given):
        return given
    return uuid.uuid4().hex


def configure() -> None:
    global _configured
    if _configured:
        return
    _configured = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    _configure_tracing()
    _configure_sentry()


def _configure_tracing() -> None:
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT
    if not (endpoint and settings.MCP_TRACING_ENABLED):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": "askproai"}),
        sampler=ParentBased(TraceIdRatioBased(settings.MCP_TRACING_SAMPLE_RATE)),
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))
    )
    trace.set_tracer_provider(provider)


def _configure_sentry() -> None:
    if not settings.SENTRY_DSN:
        return
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        integrations=[DjangoIntegration()],
        traces_sample_rate=settings.MCP_TRACING_SAMPLE_RATE if settings.MCP_TRACING_ENABLED else 0,
        send_default_pii=False,
    )


def report_exception(exc: BaseException) -> None:
    """Unexpected failures go to Sentry when configured; the log line is written by the caller."""
    if settings.SENTRY_DSN:
        import sentry_sdk

        sentry_sdk.capture_exception(exc)
