"""The console's own pages: the start page "Heute" and the inbox "Probleme", each with its
fragment (`?partial=1`) that the page's script reloads on a live event or by polling."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from bookings.enums import SmsStatus
from bookings.notifications import sms_resend
from common.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from mcp_core.console.live import data_version, live_for
from mcp_core.console.problems import messages_retry, problems_list, sync_retry
from mcp_core.console.today import today_page
from tenants.admin_scoping import actor_for, is_superuser, operator_tenant
from tenants.models import Branch, Company


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def console_tenant(request: HttpRequest) -> Company | None:
    """The operator's tenant; a superuser picks one with ?tenant= (else the first)."""
    if not is_superuser(request):
        return operator_tenant(request)
    chosen = _int(request.GET.get("tenant"))
    companies = Company.objects.order_by("pk")
    return (companies.filter(pk=chosen).first() if chosen else None) or companies.first()


def _branches(tenant: Company) -> list[Branch]:
    # all_tenants: `tenant` is the operator's own (or the superuser's pick); the filter scopes it.
    return list(Branch.objects.all_tenants().filter(tenant=tenant).order_by("name"))


def today(site: AdminSite, request: HttpRequest) -> TemplateResponse:
    tenant = console_tenant(request)
    context: dict[str, Any] = {**site.each_context(request), "title": _("Today")}
    if tenant is None:
        return TemplateResponse(request, "admin/console/today.html", context)
    branches = _branches(tenant)
    chosen = _int(request.GET.get("branch"))
    branch = next((b for b in branches if b.pk == chosen), None)
    if chosen is not None and branch is None:
        raise Http404(_("No such branch."))
    branch = (
        branch or next((b for b in branches if b.is_active), None) or next(iter(branches), None)
    )
    # Read before the page: an event committed while it renders is replayed, not lost.
    page, after = None, 0
    if branch is not None:
        version = data_version(tenant=tenant, branch_id=branch.pk)
        page, after = today_page(tenant=tenant, branch=branch, version=version), version.event_id
    context |= {
        "tenant": tenant,
        "branches": branches,
        "page": page,
        "live": live_for(
            tenant=tenant, branch_ids=[branch.pk] if branch is not None else [], after=after
        ),
    }
    template = "admin/console/today_body.html" if "partial" in request.GET else None
    return TemplateResponse(request, template or "admin/console/today.html", context)


def _resend_sms(request: HttpRequest, tenant: Company, sms_id: int) -> None:
    """Send a failed SMS again and say how it went, in the operator's language."""
    try:
        record = sms_resend(tenant=tenant, actor=actor_for(request), sms_id=sms_id)
    except Conflict:
        messages.info(request, _("This SMS has been sent again already."))
    except NotFound:
        messages.warning(request, _("This SMS does not exist (any more)."))
    except PermissionDenied:
        messages.error(request, _("Your plan does not include sending SMS."))
    except ValidationFailed as exc:
        messages.error(
            request,
            _("This customer's personal data was erased; no SMS can be sent.")
            if "customer" in exc.details
            else _("The appointment was cancelled; this SMS is not sent again."),
        )
    except ServiceUnavailable:
        messages.error(
            request, _("The SMS failed again: the provider is not reachable. Try again later.")
        )
    except ApplicationError:
        messages.error(request, _("The SMS could not be sent again."))
    else:
        if record.status == SmsStatus.NOT_CONFIGURED:
            messages.warning(request, _("No SMS provider is set up; the SMS was not sent."))
        else:
            messages.success(request, _("SMS sent again."))


def problems(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """GET: the inbox. POST `retry_message=<id>` or `retry_sync=<appointment id>`: deliver
    again through the outbox; `resend_sms=<sms id>`: send a failed SMS again. Audited as the
    operator, then back to the inbox (so a reload does not post twice)."""
    tenant = console_tenant(request)
    if request.method == "POST" and tenant is not None:
        actor = actor_for(request)
        message_id = _int(request.POST.get("retry_message"))
        appointment_id = _int(request.POST.get("retry_sync"))
        sms_id = _int(request.POST.get("resend_sms"))
        if sms_id is not None:
            _resend_sms(request, tenant, sms_id)
            return redirect(request.get_full_path())
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
        context |= {
            "tenant": tenant,
            "live": live_for(
                tenant=tenant,
                branch_ids=[branch.pk for branch in _branches(tenant)],
                after=data_version(tenant=tenant).event_id,
            ),
            "problems": problems_list(tenant=tenant),
        }
    template = "admin/console/problems_body.html" if "partial" in request.GET else None
    return TemplateResponse(request, template or "admin/console/problems.html", context)
