"""The admin's login, throttled: failed attempts are counted per username and per client
address (django-ratelimit, in the shared cache), and once either count is over its rate the
login answers 429 without checking the password, until the window has passed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage


def _username(_group: str, request: HttpRequest) -> str:
    return str(request.POST.get("username", "")).strip().casefold()


def _seconds_refused(request: HttpRequest, *, count_failure: bool) -> int:
    """How long the username or the address is still refused (0: neither has used up its
    rate of failures); with `count_failure`, one failure is counted first."""
    usages = [
        get_usage(
            request,
            group="admin-login:username",
            key=_username,
            rate=settings.ADMIN_LOGIN_FAILURES_PER_USERNAME,
            method="POST",
            increment=count_failure,
        ),
        get_usage(
            request,
            group="admin-login:address",
            key="ip",
            rate=settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS,
            method="POST",
            increment=count_failure,
        ),
    ]
    return max(
        (max(1, int(u["time_left"])) for u in usages if u is not None and u["count"] >= u["limit"]),
        default=0,
    )


def login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    refused_for = _seconds_refused(request, count_failure=False) if request.method == "POST" else 0
    if refused_for:
        context = {
            **admin.site.each_context(request),
            "title": _("Log in"),
            "throttled": True,
            "form_error": _(
                "Zu viele fehlgeschlagene Anmeldeversuche. Bitte versuchen Sie es in einigen "
                "Minuten erneut."
            ),
        }
        refusal = TemplateResponse(request, "admin/login_throttled.html", context, status=429)
        refusal["Retry-After"] = str(refused_for)
        return refusal
    response = admin.site.login(request, extra_context)
    if request.method == "POST" and response.status_code == 200:
        # The form came back: the password or username was wrong.
        _seconds_refused(request, count_failure=True)
    return response
