"""The mcp_core admin, one module per concern; importing this package (Django's admin
autodiscovery does) registers them all:

- `sagas`: saga runs and the outbox (read-only, superusers; "deliver again");
- `upstreams`: external MCP servers, through the federation registry's services;
- `webhooks`: the tenant's outbound webhook endpoints;
- `flags`: feature flags (superusers, audited, kill switch).
"""

from mcp_core.admin import flags, sagas, upstreams, webhooks

__all__ = ["flags", "sagas", "upstreams", "webhooks"]
