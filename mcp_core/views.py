from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from mcp_core.health import health_report


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)
