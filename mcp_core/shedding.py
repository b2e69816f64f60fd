"""The middleware that keeps each kind of caller to its budget and sheds API clients, then the
admin, under load (`mcp_core.load`: latency or database pressure). The adaptive part is behind
the feature flag `adaptive_load_shedding`, per tenant (the Bearer key's; the admin, which has
none, by the flag's global state); with the flag off a caller meets only its fixed budget.
A REST key just refused for its plan's rate limit is answered 429 here, before any other work,
for up to LOAD_SHED_REFUSAL_MEMORY seconds (never past its window), so a flood costs this worker
little."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.errors import ApplicationError, RateLimitExceeded
from mcp_core.flag_provider import flag_value
from mcp_core.load import (
    ADMIN,
    API,
    PHONE,
    REASON_LATENCY,
    REASON_OVER_LIMIT,
    SHED_TOTAL,
    Admission,
    Strain,
    monitor,
)
from mcp_core.middleware import correlation_id_of
from tenants.authentication import authenticate_request
from tenants.policy import effective_plan

ADAPTIVE_FLAG = "adaptive_load_shedding"
_UNMEASURED = ("/mcp/health", "/livez", "/metrics", "/static/")


def caller_kind(path: str) -> str | None:
    """The kind of caller a path serves; None for probes, metrics and static files."""
    if path.startswith(_UNMEASURED):
        return None
    if path.startswith("/webhooks/retell"):
        return PHONE
    if path.startswith("/admin/"):
        return ADMIN
    if path.startswith(("/api/", "/mcp", "/webhooks/")):
        return API
    return None


class LoadShedded(RateLimitExceeded):
    def __init__(self, admission: Admission) -> None:
        retry_after = settings.LOAD_SHED_RETRY_AFTER
        why = "is busy" if admission.reason != "budget" else "has no free slot for this caller"
        super().__init__(
            f"The service {why}; retry in {retry_after} seconds.",
            details={
                "scope": "load",
                "caller": admission.kind,
                "reason": admission.reason,
                "retry_after": retry_after,
            },
        )


@dataclass(frozen=True)
class _Refusal:
    until: float  # time.time() to answer from memory until
    reset_at: int
    limit: int
    window: int


class _RefusedKeys:
    """REST keys refused for their tenant's plan budget, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: dict[str, _Refusal] = {}

    def get(self, digest: str, now: float) -> _Refusal | None:
        with self._lock:
            refusal = self._refused.get(digest)
            if refusal is not None and refusal.until <= now:
                del self._refused[digest]
                return None
            return refusal

    def remember(self, digest: str, response: HttpResponse, now: float) -> None:
        try:
            details = json.loads(response.content)["error"]["details"]
            reset_at = int(response["X-RateLimit-Reset"])
        except (ValueError, KeyError, TypeError):
            return
        if details.get("scope") != "tenant":
            return  # a per-service limit refuses one service, not the key
        until = min(float(reset_at), now + settings.LOAD_SHED_REFUSAL_MEMORY)
        refusal = _Refusal(until, reset_at, int(details["limit"]), int(details["window_seconds"]))
        with self._lock:
            if len(self._refused) > 10_000:
                self._refused.clear()  # bounded: forgetting only costs one slow refusal each
            self._refused[digest] = refusal

    def clear(self) -> None:
        with self._lock:
            self._refused.clear()


refused_keys = _RefusedKeys()


def _remembered_refusal(request: HttpRequest, digest: str, now: float) -> HttpResponse | None:
    refusal = refused_keys.get(digest, now)
    if refusal is None:
        return None
    retry_after = max(1, int(refusal.reset_at - now))
    error = RateLimitExceeded(
        f"Rate limit of {refusal.limit} calls per {refusal.window} seconds exceeded for this "
        f"tenant; retry in {retry_after} seconds.",
        details={
            "limit": refusal.limit,
            "window_seconds": refusal.window,
            "retry_after": retry_after,
            "scope": "tenant",
        },
    )
    SHED_TOTAL.labels(caller=API, reason=REASON_OVER_LIMIT).inc()
    response = JsonResponse(error.envelope(correlation_id_of(request)), status=error.http_status)
    response["X-RateLimit-Limit"] = str(refusal.limit)
    response["X-RateLimit-Remaining"] = "0"
    response["X-RateLimit-Reset"] = str(refusal.reset_at)
    response["Retry-After"] = str(retry_after)
    return response


def _key_digest(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization")
    if not header or not request.path.startswith("/api/"):
        return None
    return hashlib.sha256(header.encode()).hexdigest()


class LoadSheddingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = caller_kind(request.path)
        if kind is None:
            return self.get_response(request)
        digest = _key_digest(request) if kind == API else None
        if digest is not None:
            remembered = _remembered_refusal(request, digest, time.time())
            if remembered is not None:
                return remembered
        # Only API clients and the admin are shed for load; the phone line never waits for a
        # database sample.
        strain = monitor.strain() if kind != PHONE else Strain(0.0, REASON_LATENCY)
        adaptive = strain.pressure >= 1 and _adaptive_for(request)
        admission = monitor.try_enter(kind, adaptive=adaptive, strain=strain)
        if not admission.admitted:
            error = LoadShedded(admission)
            shed = JsonResponse(
                error.envelope(correlation_id_of(request)), status=error.http_status
            )
            shed["Retry-After"] = str(settings.LOAD_SHED_RETRY_AFTER)
            return shed
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            monitor.leave(kind)
            monitor.observe(time.perf_counter() - started)
        if digest is not None and response.status_code == 429:
            refused_keys.remember(digest, response, time.time())
        return response


def _adaptive_for(request: HttpRequest) -> bool:
    """Whether the flag is on for the caller's tenant (asked only under load); a request
    without a valid key is judged by the flag's global state."""
    header = request.headers.get("Authorization")
    if not header:
        return flag_value(ADAPTIVE_FLAG, tenant_id=None)
    try:
        tenant = authenticate_request(header).tenant
    except ApplicationError:
        return flag_value(ADAPTIVE_FLAG, tenant_id=None)
    return flag_value(ADAPTIVE_FLAG, tenant_id=tenant.pk, plan=effective_plan(tenant))
