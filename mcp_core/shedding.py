"""The middleware that keeps each kind of caller to its budget and sheds API clients under load
(`mcp_core.load`). The adaptive part is behind the feature flag `adaptive_load_shedding`, per
tenant (the Bearer key's); with the flag off a caller meets only its fixed budget."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.errors import ApplicationError, RateLimitExceeded
from mcp_core.flags import flag_enabled
from mcp_core.load import ADMIN, API, PHONE, Admission, monitor
from mcp_core.middleware import correlation_id_of
from tenants.authentication import authenticate_request
from tenants.plans import effective_plan

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
        why = "is busy" if admission.reason == "latency" else "has no free slot for this caller"
        super().__init__(
            f"The service {why}; retry in {retry_after} seconds.",
            details={
                "scope": "load",
                "caller": admission.kind,
                "reason": admission.reason,
                "retry_after": retry_after,
            },
        )


class LoadSheddingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = caller_kind(request.path)
        if kind is None:
            return self.get_response(request)
        adaptive = kind == API and monitor.pressure() >= 1 and _adaptive_for(request)
        admission = monitor.try_enter(kind, adaptive=adaptive)
        if not admission.admitted:
            error = LoadShedded(admission)
            response = JsonResponse(
                error.envelope(correlation_id_of(request)), status=error.http_status
            )
            response["Retry-After"] = str(settings.LOAD_SHED_RETRY_AFTER)
            return response
        started = time.perf_counter()
        try:
            return self.get_response(request)
        finally:
            monitor.leave(kind)
            monitor.observe(time.perf_counter() - started)


def _adaptive_for(request: HttpRequest) -> bool:
    """Whether the flag is on for the caller's tenant (asked only under load); a request
    without a valid key is judged by the flag's global state."""
    header = request.headers.get("Authorization")
    if not header:
        return flag_enabled(ADAPTIVE_FLAG, tenant_id=None)
    try:
        tenant = authenticate_request(header).tenant
    except ApplicationError:
        return flag_enabled(ADAPTIVE_FLAG, tenant_id=None)
    return flag_enabled(ADAPTIVE_FLAG, tenant_id=tenant.pk, plan=effective_plan(tenant))
