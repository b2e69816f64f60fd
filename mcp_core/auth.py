"""Who calls: the principal (tenant and role) every operation runs as.

Front doors build it: from an API key or an OAuth access token (`tenants.authentication`)
or, for a caller without a key, with `Principal.system`. The tenant comes from the key or
token alone, never from a request body or URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.models import Company


@dataclass(frozen=True)
class Principal:
    """Who calls: the tenant and role an API key fixes, or a caller without a key
    (`Principal.system`)."""

    tenant: Company
    role: str
    api_key_id: int
    key_prefix: str
    # An OAuth token names the services its scopes grant; an API key (None) reaches them all.
    services: frozenset[str] | None = None
    kind: str = "api_key"  # or "oauth", or "session" (the console's page on the live channels)
    # The toolsets an API key is configured with (names as the MCP-Toolsets header takes
    # them); None: the client chooses, else the assistant default.
    toolsets: frozenset[str] | None = None

    @classmethod
    def system(cls, tenant: Company, source: str, role: str) -> Principal:
        """A caller without an API key, acting for `tenant`: a verified webhook (source
        'retell', 'calcom', 'stripe', 'twilio'), a Celery task or manage.py ('cli'). The
        tenant must come from a verified source (a signed payload, the operator's argument)."""
        return cls(tenant=tenant, role=role, api_key_id=0, key_prefix=source)

    @classmethod
    def oauth(cls, tenant: Company, role: str, services: frozenset[str], who: str) -> Principal:
        """A caller with an OAuth access token; `who` is the consenting user or, for the
        client-credentials grant, the client."""
        return cls(
            tenant=tenant, role=role, api_key_id=0, key_prefix=who, services=services, kind="oauth"
        )

    def may_use(self, service: str) -> bool:
        return self.services is None or service in self.services

    @property
    def actor(self) -> str:
        if self.kind == "oauth":
            return f"oauth:{self.key_prefix}"
        if self.api_key_id == 0:
            return f"system:{self.key_prefix}"
        return f"api_key:{self.key_prefix}"


def bearer_token(authorization_header: str | None) -> str | None:
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
