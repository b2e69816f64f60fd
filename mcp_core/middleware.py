from collections.abc import Callable

import structlog
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.errors import ValidationFailed
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


API_PREFIXES = ("/api/", "/mcp", "/webhooks/", "/metrics", "/.well-known/")


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


class UriTooLong(ValidationFailed):
    """A path and query string over MAX_REQUEST_LINE: the VALIDATION_FAILED envelope with 414."""

    @property
    def http_status(self) -> int:
        return 414


class PayloadTooLarge(ValidationFailed):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: the VALIDATION_FAILED envelope with 413."""

    @property
    def http_status(self) -> int:
        return 413


def suspicious_request_error(exc: SuspiciousOperation) -> ValidationFailed:
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return PayloadTooLarge(
            f"The body is larger than {limit} bytes.", details={"body": [f"At most {limit} bytes."]}
        )
    if isinstance(exc, DisallowedHost):
        return ValidationFailed(
            "The Host header names no host served here.", details={"host": ["Not allowed."]}
        )
    return ValidationFailed("The request is malformed.")


class RequestGuardMiddleware:
    """Before any view reads it, an API request with a Host not in ALLOWED_HOSTS, a path and
    query over MAX_REQUEST_LINE or a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered
    in the envelope (400, 414, 413). DRF reads the body as a stream and would never enforce the
    size; Django's own answer is an HTML page, and gunicorn's for a long line too (`make serve`
    leaves the line's length to us)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            error = self._refusal(request)
            if error is not None:
                return JsonResponse(
                    error.envelope(correlation_id_of(request)), status=error.http_status
                )
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> ValidationFailed | None:
        try:
            request.get_host()
        except DisallowedHost as exc:
            return suspicious_request_error(exc)
        target = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
        if target > settings.MAX_REQUEST_LINE:
            return UriTooLong(
                f"The path and query are longer than {settings.MAX_REQUEST_LINE} characters.",
                details={"query": [f"At most {settings.MAX_REQUEST_LINE} characters."]},
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return suspicious_request_error(RequestDataTooBig())
        return None
