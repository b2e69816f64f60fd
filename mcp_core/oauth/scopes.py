"""The scopes our authorization server knows (django-oauth-toolkit's SCOPES_BACKEND_CLASS).

One scope per service (its MCP tools and REST routes), and the role and tenant scopes the
consent page adds for the signed-in operator (mcp_core/oauth_scopes.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from oauth2_provider.scopes import BaseScopes

from mcp_core.oauth_scopes import ROLE_ORDER, ROLE_PREFIX, TENANT_PREFIX, roles_up_to
from mcp_core.operations import registry
from tenants.oauth_tokens import operator_of

SERVICE_LABELS = {
    "booking": "Termine buchen, verschieben und absagen",
    "customer": "Kunden ansehen und pflegen",
    "staff": "Mitarbeiter, Leistungen und Dienstpläne",
    "tenant": "Betrieb, Filialen und Öffnungszeiten",
    "routing": "Anrufweiterleitung",
    "integration": "Anbindungen: Kalender, SMS und Zahlungen",
}
ROLE_LABELS = {
    "readonly": "Nur lesen",
    "staff": "Mitarbeiter",
    "manager": "Filialleitung",
    "owner": "Inhaber",
}


def service_scopes() -> list[str]:
    return registry.services()


def authorization_server_issuer(request: HttpRequest) -> str:
    """Our own origin: RFC 8414's metadata lives at its /.well-known/oauth-authorization-server."""
    return request.build_absolute_uri("/").rstrip("/")


class ServiceScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = {s: SERVICE_LABELS.get(s, s) for s in service_scopes()}
        scopes.update({f"{ROLE_PREFIX}{r}": f"Rolle: {ROLE_LABELS[r]}" for r in ROLE_ORDER})
        return scopes

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        """The services for anyone; the role and tenant scopes only for the operator who
        consents (or who owns a client-credentials client), up to that operator's role."""
        scopes = service_scopes()
        user = getattr(request, "user", None)
        if user is None and application is not None:
            user = application.user
        profile = operator_of(user) if user is not None and user.is_authenticated else None
        if profile is not None:
            scopes += [f"{ROLE_PREFIX}{r}" for r in roles_up_to(profile.role)]
            scopes.append(f"{TENANT_PREFIX}{profile.tenant_id}")
        return scopes

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return service_scopes()
