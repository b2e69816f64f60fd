"""404/500 for API paths in the contract's envelope; HTML pages stay Django's own."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from common.errors import ApplicationError, NotFound
from mcp_core.middleware import correlation_id_of

API_PREFIXES = ("/api/", "/mcp", "/webhooks/", "/metrics", "/.well-known/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception or Exception())
    error = NotFound(f"No endpoint at {request.path}.")
    return JsonResponse(error.envelope(correlation_id_of(request)), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    error = ApplicationError("An internal error occurred; it has been logged.")
    return JsonResponse(error.envelope(correlation_id_of(request)), status=500)
