"""API-key authentication: `Authorization: Bearer apk_…` → the principal (tenant and role).

The tenant comes from the key alone, never from a request body or URL (CONTRACT section 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from mcp_core.errors import AuthenticationFailed, ServiceUnavailable
from tenants.api_keys import matches, split_prefix
from tenants.models import ApiKey, Company

# last_used_at is written at most this often per key, so authentication is not a write per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who calls: the tenant and role an API key fixes, or a caller without a key
    (`Principal.system`)."""

    tenant: Company
    role: str
    api_key_id: int
    key_prefix: str

    @classmethod
    def system(cls, tenant: Company, source: str, role: str) -> Principal:
        """A caller without an API key, acting for `tenant`: a verified webhook (source
        'retell', 'calcom', 'stripe', 'twilio'), a Celery task or manage.py ('cli'). The
        tenant must come from a verified source (a signed payload, the operator's argument)."""
        return cls(tenant=tenant, role=role, api_key_id=0, key_prefix=source)

    @property
    def actor(self) -> str:
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


def authenticate_api_key(plaintext: str | None) -> Principal:
    """Raises AuthenticationFailed for a missing, malformed, unknown, revoked or expired key,
    and for a key of an inactive tenant — all with the same message, so nothing leaks."""
    failure = AuthenticationFailed("A valid API key is required.")
    if not plaintext:
        raise failure
    prefix = split_prefix(plaintext)
    if prefix is None:
        raise failure
    api_key = ApiKey.objects.select_related("tenant__subscription").filter(prefix=prefix).first()
    if api_key is None or not matches(plaintext, api_key.key_hash):
        raise failure
    now = timezone.now()
    if api_key.revoked_at is not None or (api_key.expires_at and api_key.expires_at <= now):
        raise failure
    if not api_key.tenant.is_active:
        raise failure
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return Principal(
        tenant=api_key.tenant, role=api_key.role, api_key_id=api_key.pk, key_prefix=api_key.prefix
    )


def authenticate_request(authorization_header: str | None) -> Principal:
    """The principal for an `Authorization` header.

    Raises AuthenticationFailed, or ServiceUnavailable when the database cannot be reached
    (a key cannot be checked then, and that is not the caller's fault).
    """
    try:
        return authenticate_api_key(bearer_token(authorization_header))
    except DatabaseError as exc:
        raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
