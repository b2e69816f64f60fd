from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from mcp_core.observability import new_correlation_id


class CorrelationIdMiddleware:
    """Takes X-Correlation-ID from the request (or makes one), binds it to every log line of the
    request and returns it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = new_correlation_id(request.headers.get("X-Correlation-ID"))
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response.setdefault("X-Correlation-ID", correlation_id)
        return response


def correlation_id_of(request: HttpRequest) -> str:
    return getattr(request, "correlation_id", None) or new_correlation_id()
