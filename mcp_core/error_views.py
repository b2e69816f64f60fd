"""400/404/500 for API paths in the contract's envelope; HTML pages stay Django's own."""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from common.errors import ApplicationError, NotFound, ValidationFailed
from mcp_core.middleware import correlation_id_of, is_api, suspicious_request_error


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a suspicious request found after the guard: a streamed body over the
    limit, too many fields) in the envelope on API paths."""
    if not is_api(request):
        return defaults.bad_request(request, exception or Exception())
    if isinstance(exception, SuspiciousOperation):
        error = suspicious_request_error(exception)
    else:
        error = ValidationFailed("The request is malformed.")
    return JsonResponse(error.envelope(correlation_id_of(request)), status=error.http_status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception or Exception())
    error = NotFound(f"No endpoint at {request.path}.")
    return JsonResponse(error.envelope(correlation_id_of(request)), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    error = ApplicationError("An internal error occurred; it has been logged.")
    return JsonResponse(error.envelope(correlation_id_of(request)), status=500)
