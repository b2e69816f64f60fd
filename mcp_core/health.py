"""Health of the things every request depends on: database, cache, broker, integrations.

`status` is "down" when the database is unreachable (nothing can be served), "degraded" when
the cache or broker is or an integration's breaker is open (requests still succeed; see the
guarantees in docs/contract.md), "ok" otherwise.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from mcp_core.breakers import breaker_states
from mcp_core.queries import database_ping

INTEGRATION_KEYS: dict[str, tuple[str, ...]] = {
    "calcom": ("CALCOM_API_KEY",),
    "retell": ("RETELL_API_KEY",),
    "stripe": ("STRIPE_API_KEY",),
    # Twilio sends nothing without a sender number either (integrations/twilio/client.py).
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
}


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        result: dict[str, Any] = {"status": "ok", **(detail or {})}
    except Exception as exc:
        result = {"status": "down", "error": exc.__class__.__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> dict[str, Any]:
    def probe() -> dict[str, Any]:
        database_ping()
        return {"vendor": connection.vendor}

    result = _timed(probe)
    if result["status"] != "ok":
        # Drop the broken connection so the next request reconnects when the database is back.
        connection.close_if_unusable_or_obsolete()
    return result


def check_cache() -> dict[str, Any]:
    backend = "redis" if settings.REDIS_URL else "local-memory"

    def probe() -> dict[str, Any]:
        key = f"health:{uuid.uuid4().hex}"
        if settings.REDIS_URL:
            # django-redis is configured to swallow errors; ask the client directly to see them.
            from django_redis import get_redis_connection

            get_redis_connection("default").ping()
        cache.set(key, "1", 5)
        if cache.get(key) != "1":
            raise ConnectionError("cache did not return what was written")
        cache.delete(key)
        return {"backend": backend}

    result = _timed(probe)
    result.setdefault("backend", backend)
    return result


def check_broker() -> dict[str, Any]:
    if not settings.CELERY_BROKER_URL:
        return {"status": "ok", "mode": "eager"}

    def probe() -> dict[str, Any]:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return {"mode": "worker"}

    return _timed(probe)


def check_integrations(*, configured: dict[str, bool] | None = None) -> dict[str, Any]:
    """Configured or not, and the state of each integration's circuit breaker.

    `configured` overrides the answer per integration name (a tenant's own credentials, e.g.
    its Cal.com account, which only the owning app can look up). "sms" is the configured SMS
    backend ("console", the default, needs no key and is always configured)."""
    circuits = breaker_states()
    overrides = configured or {}
    report: dict[str, Any] = {
        name: {
            "status": "configured"
            if overrides.get(name, all(getattr(settings, key, "") for key in keys))
            else "not_configured",
            "circuit": circuits.get(name, "closed"),
        }
        for name, keys in INTEGRATION_KEYS.items()
    }
    sms_backend = settings.SMS_BACKEND or "console"
    sms_key = "twilio" if sms_backend == "twilio" else sms_backend
    report["sms"] = {
        "status": report["twilio"]["status"] if sms_key == "twilio" else "configured",
        "backend": sms_backend,
        "circuit": circuits.get(sms_key, "closed"),
    }
    return report


def health_report() -> dict[str, Any]:
    checks = {
        "database": check_database(),
        "cache": check_cache(),
        "broker": check_broker(),
        "integrations": check_integrations(),
    }
    if checks["database"]["status"] != "ok":
        status = "down"
    elif (
        checks["cache"]["status"] != "ok"
        or checks["broker"]["status"] != "ok"
        or any(entry["circuit"] != "closed" for entry in checks["integrations"].values())
    ):
        # An open breaker degrades, it does not break: bookings go on with sync pending.
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": checks}
