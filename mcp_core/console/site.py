"""The admin site of the console: German titles, the start page "Heute" as its index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _

from mcp_core.console import views


class ConsoleAdminSite(admin.AdminSite):
    site_header = _("AskProAI Operations")
    site_title = _("AskProAI")
    index_title = _("All areas")

    def get_urls(self) -> list[URLResolver | URLPattern]:
        own = [
            path("heute/", self.admin_view(self.today), name="console_today"),
            path("bereiche/", self.admin_view(self.all_areas), name="console_areas"),
            path("probleme/", self.admin_view(self.problems), name="console_problems"),
        ]
        return own + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # The start page is today's calendar; the list of every area stays one link away.
        return self.today(request)

    def today(self, request: HttpRequest) -> TemplateResponse:
        return views.today(self, request)

    def problems(self, request: HttpRequest) -> HttpResponse:
        return views.problems(self, request)

    def all_areas(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        return super().index(request, extra_context)
