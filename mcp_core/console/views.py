"""The console's own pages: the start page "Heute" (and its fragment, polled by the page)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from mcp_core.console.today import today_page
from tenants.admin_scoping import is_superuser, operator_tenant
from tenants.models import Branch, Company

REFRESH_SECONDS = 30


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def console_tenant(request: HttpRequest) -> Company | None:
    """The operator's tenant; a superuser picks one with ?tenant= (else the first)."""
    if not is_superuser(request):
        return operator_tenant(request)
    chosen = _int(request.GET.get("tenant"))
    companies = Company.objects.order_by("pk")
    return (companies.filter(pk=chosen).first() if chosen else None) or companies.first()


def today(site: AdminSite, request: HttpRequest) -> TemplateResponse:
    tenant = console_tenant(request)
    context: dict[str, Any] = {**site.each_context(request), "title": _("Today")}
    if tenant is None:
        return TemplateResponse(request, "admin/console/today.html", context)
    # all_tenants: `tenant` is the operator's own (or the superuser's pick); the filter scopes it.
    branches = list(Branch.objects.all_tenants().filter(tenant=tenant).order_by("name"))
    chosen = _int(request.GET.get("branch"))
    branch = next((b for b in branches if b.pk == chosen), None)
    if chosen is not None and branch is None:
        raise Http404(_("No such branch."))
    branch = (
        branch or next((b for b in branches if b.is_active), None) or next(iter(branches), None)
    )
    context |= {
        "tenant": tenant,
        "branches": branches,
        "page": today_page(tenant=tenant, branch=branch) if branch is not None else None,
        "refresh_seconds": REFRESH_SECONDS,
    }
    template = "admin/console/today_body.html" if "partial" in request.GET else None
    return TemplateResponse(request, template or "admin/console/today.html", context)
