"""OAuth access tokens (django-oauth-toolkit) → the principal, as an API key yields one.

Tokens are stored as SHA-256 only (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE) and checked on every
request without a cache, so a revoked token is refused at once. The role is the lower of the
one chosen at consent and the operator's current one; the tenant must still be the operator's.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser
from oauth2_provider.models import get_access_token_model

from mcp_core.auth import Principal
from mcp_core.oauth_scopes import lower_role, parse_scope
from tenants.models import Company, OperatorProfile


def operator_of(user: AbstractBaseUser | None) -> OperatorProfile | None:
    """The tenant binding of an admin user who may sign in clients; None for anyone else."""
    if user is None or not user.is_active:
        return None
    try:
        profile: OperatorProfile = user.operator_profile  # type: ignore[attr-defined]
    except OperatorProfile.DoesNotExist:
        return None
    return profile


def principal_for_access_token(token: str) -> Principal | None:
    """None for an unknown, expired or revoked token, or one whose operator or tenant no
    longer holds."""
    checksum = hashlib.sha256(token.encode()).hexdigest()
    access_token = (
        get_access_token_model()
        .objects.select_related(
            "user__operator_profile__tenant",
            "application__user__operator_profile__tenant",
        )
        .filter(token_checksum=checksum)
        .first()
    )
    if access_token is None or access_token.is_expired():
        return None
    application = access_token.application
    if application is None:
        return None
    grant = parse_scope(access_token.scope)
    if access_token.user is not None:
        profile = operator_of(access_token.user)
        granted_role, granted_tenant = grant.role, grant.tenant_id
    else:
        # Client credentials: the client acts for the operator who owns it, with that
        # operator's role and tenant unless its scope asked for less.
        profile = operator_of(application.user)
        granted_role = grant.role or (profile.role if profile else None)
        granted_tenant = grant.tenant_id or (profile.tenant_id if profile else None)
    if profile is None or granted_role is None or granted_tenant != profile.tenant_id:
        return None
    tenant: Company = profile.tenant
    role = lower_role(granted_role, profile.role)
    if role is None or not tenant.is_active:
        return None
    who = access_token.user.get_username() if access_token.user else application.client_id
    return Principal.oauth(tenant=tenant, role=role, services=grant.services, who=who[:100])
