"""From a registered upstream to what a session connects to (`sessions.Target`)."""

from __future__ import annotations

import hashlib
import json

from mcp_core.federation.registry import credentials_of
from mcp_core.federation.sessions import Target
from mcp_core.models import Upstream

TENANT_PLACEHOLDER = "{tenant_id}"
# A health check starts the upstream for no tenant; per-tenant paths get this instead.
PROBE_TENANT = "probe"


def per_tenant(upstream: Upstream) -> bool:
    """Whether each tenant gets its own process or session: a `{tenant_id}` in the command,
    the URL or a credential (one memory file per tenant, for one)."""
    texts = [*upstream.command, upstream.url, upstream.credentials]
    return any(TENANT_PLACEHOLDER in text for text in texts)


def target_for(upstream: Upstream, tenant_id: int | str | None) -> Target:
    """The connection for `tenant_id`; its key changes with the registration, so an edited
    upstream gets a new session rather than the old one."""
    tenant = str(tenant_id if tenant_id is not None else PROBE_TENANT)
    scoped = per_tenant(upstream)

    def fill(text: str) -> str:
        return text.replace(TENANT_PLACEHOLDER, tenant) if scoped else text

    secrets = {key: fill(value) for key, value in credentials_of(upstream).items()}
    fingerprint = hashlib.sha256(
        json.dumps([upstream.command, upstream.url, upstream.credentials]).encode()
    ).hexdigest()[:16]
    key = f"{upstream.pk}:{tenant if scoped else '*'}:{fingerprint}"
    if upstream.command:
        return Target(
            key=key,
            command=tuple(fill(part) for part in upstream.command),
            env=tuple(sorted(secrets.items())),
        )
    return Target(key=key, url=fill(upstream.url), headers=tuple(sorted(secrets.items())))
