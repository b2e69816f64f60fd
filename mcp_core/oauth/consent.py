"""The consent page (German) behind the admin's login: the operator picks the services and
the role a client gets, never above their own; the token is bound to the operator's tenant."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from oauth2_provider.views import AuthorizationView

from mcp_core.oauth.scopes import ROLE_LABELS, SERVICE_LABELS, service_scopes
from mcp_core.oauth_scopes import ROLE_PREFIX, TENANT_PREFIX, roles_up_to
from mcp_core.permissions import Role
from tenants.models import OperatorProfile
from tenants.oauth_tokens import operator_of


class ConsentView(AuthorizationView):
    template_name = "oauth/consent.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and operator_of(request.user) is None:
            return TemplateResponse(
                request,
                "oauth/consent.html",
                {"no_tenant": True, "title": "Zugriff erlauben"},
                status=403,
            )
        return super().dispatch(request, *args, **kwargs)

    def _profile(self) -> OperatorProfile:
        profile = operator_of(self.request.user)
        if profile is None:  # dispatch refused everyone else before
            raise PermissionDenied
        return profile

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        profile = self._profile()
        requested = [s for s in context.get("scopes", []) if s in service_scopes()]
        roles = roles_up_to(profile.role)
        context.update(
            title="Zugriff erlauben",
            tenant=profile.tenant,
            services=[(s, SERVICE_LABELS.get(s, s)) for s in requested],
            roles=[(r, ROLE_LABELS[r]) for r in roles],
            # An assistant books for callers: staff is enough, and less is safer.
            default_role=Role.STAFF if Role.STAFF in roles else roles[-1],
        )
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        """The scope granted: the services ticked among those requested, the role chosen
        (validated again by the scopes backend against the operator's own) and the tenant."""
        profile = self._profile()
        requested = set(str(form.cleaned_data.get("scope", "")).split())
        services = [s for s in self.request.POST.getlist("services") if s in requested]
        role = self.request.POST.get("role", "")
        if not services or role not in roles_up_to(profile.role):
            form.cleaned_data["allow"] = False
        form.cleaned_data["scope"] = " ".join(
            [*sorted(services), f"{ROLE_PREFIX}{role}", f"{TENANT_PREFIX}{profile.tenant_id}"]
        )
        return super().form_valid(form)
