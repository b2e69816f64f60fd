"""Bearer authentication: an API key (`apk_…`) or an OAuth access token → the principal.

The tenant comes from the key alone, never from a request body or URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time

from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from common.errors import AuthenticationFailed, ServiceUnavailable
from mcp_core.auth import Principal, bearer_token
from tenants.api_keys import matches, split_prefix
from tenants.models import ApiKey, Company
from tenants.oauth_tokens import principal_for_access_token

# last_used_at is written at most this often per key, so authentication is not a write per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


# Keys checked recently in this process: SHA-256 of the key → (principal, valid until
# (monotonic), the key's own expiry). Every request would otherwise spend a query (with the
# tenant and subscription joined) on the same answer. A write to any key or tenant in this
# process clears it; other processes see a revocation or a deactivated tenant within
# MCP_AUTH_CACHE_TTL seconds.
_recent: dict[str, tuple[Principal, float, dt.datetime | None]] = {}
_recent_lock = threading.Lock()
_RECENT_LIMIT = 10_000
_monotonic = time.monotonic  # tests move it


def forget_checked_keys(**_: object) -> None:
    with _recent_lock:
        _recent.clear()


for _model in (ApiKey, Company):
    post_save.connect(forget_checked_keys, sender=_model, dispatch_uid=f"auth-{_model.__name__}")
    post_delete.connect(forget_checked_keys, sender=_model, dispatch_uid=f"auth-d{_model.__name__}")


def _recently_checked(digest: str) -> Principal | None:
    entry = _recent.get(digest)
    if entry is None:
        return None
    principal, valid_until, key_expires = entry
    if _monotonic() >= valid_until or (key_expires and key_expires <= timezone.now()):
        with _recent_lock:
            _recent.pop(digest, None)
        return None
    return principal


def authenticate_api_key(plaintext: str | None) -> Principal:
    """Raises AuthenticationFailed for a missing, malformed, unknown, revoked or expired key,
    and for a key of an inactive tenant — all with the same message, so nothing leaks."""
    failure = AuthenticationFailed("A valid API key is required.")
    if not plaintext:
        raise failure
    ttl = settings.MCP_AUTH_CACHE_TTL
    digest = hashlib.sha256(plaintext.encode()).hexdigest()
    if ttl > 0 and (principal := _recently_checked(digest)) is not None:
        return principal
    prefix = split_prefix(plaintext)
    if prefix is None:
        raise failure
    # all_tenants: the key is what tells us the tenant.
    keys = ApiKey.objects.all_tenants().select_related("tenant__subscription")
    api_key = keys.filter(prefix=prefix).first()
    if api_key is None or not matches(plaintext, api_key.key_hash):
        raise failure
    now = timezone.now()
    if api_key.revoked_at is not None or (api_key.expires_at and api_key.expires_at <= now):
        raise failure
    if not api_key.tenant.is_active:
        raise failure
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.for_tenant(api_key.tenant_id).filter(pk=api_key.pk).update(last_used_at=now)
    principal = Principal(
        tenant=api_key.tenant,
        role=api_key.role,
        api_key_id=api_key.pk,
        key_prefix=api_key.prefix,
        toolsets=frozenset(api_key.toolsets) or None,
    )
    if ttl > 0:
        # The key's last_used_at then lags by up to the TTL, within its resolution anyway.
        with _recent_lock:
            if len(_recent) >= _RECENT_LIMIT:
                _recent.clear()
            _recent[digest] = (principal, _monotonic() + ttl, api_key.expires_at)
    return principal


def authenticate_request(authorization_header: str | None) -> Principal:
    """The principal for an `Authorization` header: an OAuth token first (API keys have
    their own shape), then an API key.

    Raises AuthenticationFailed, or ServiceUnavailable when the database cannot be reached
    (a key cannot be checked then, and that is not the caller's fault).
    """
    token = bearer_token(authorization_header)
    try:
        if (
            token
            and split_prefix(token) is None
            and (principal := principal_for_access_token(token))
        ):
            return principal
        return authenticate_api_key(token)
    except DatabaseError as exc:
        raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
