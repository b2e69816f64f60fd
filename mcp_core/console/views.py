"""The console's own pages: the start page "Heute" (and its fragment, polled by the page) and
the inbox "Probleme"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from mcp_core.console.problems import messages_retry, problems_list, sync_retry
from mcp_core.console.today import today_page
from tenants.admin_scoping import actor_for, is_superuser, operator_tenant
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


def problems(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """GET: the inbox. POST `retry_message=<id>` or `retry_sync=<appointment id>`: deliver
    again through the outbox, audited as the operator, then back to the inbox."""
    tenant = console_tenant(request)
    if request.method == "POST" and tenant is not None:
        actor = actor_for(request)
        message_id = _int(request.POST.get("retry_message"))
        appointment_id = _int(request.POST.get("retry_sync"))
        if message_id is not None:
            done = messages_retry(tenant=tenant, actor=actor, message_ids=[message_id])
        elif appointment_id is not None:
            done = sync_retry(tenant=tenant, actor=actor, appointment_id=appointment_id)
        else:
            done = []
        if done:
            messages.success(request, _("Queued for delivery again."))
        else:
            messages.warning(
                request, _("Nothing to deliver again: already delivered or not found.")
            )
        return redirect(request.get_full_path())
    context: dict[str, Any] = {**site.each_context(request), "title": _("Problems")}
    if tenant is not None:
        context |= {"tenant": tenant, "problems": problems_list(tenant=tenant)}
    return TemplateResponse(request, "admin/console/problems.html", context)
