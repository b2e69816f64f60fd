import os

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from mcp_core.backlog_metrics import BacklogCollector
from mcp_core.health import health_report
from mcp_core.metrics import CIRCUIT_BREAKER_STATE  # noqa: F401 — registered before export


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: this process answers. It checks nothing else, so a database outage makes pods
    unready (GET /mcp/health) without restarting every one of them."""
    return JsonResponse({"status": "alive"})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text. Under several gunicorn workers, PROMETHEUS_MULTIPROC_DIR makes this
    aggregate all of them instead of showing the one worker that answered."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(BacklogCollector())
    body += generate_latest(backlog)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
