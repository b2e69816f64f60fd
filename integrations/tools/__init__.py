"""The integration.* operations (docs/contract.md), one module per integration; importing
this package registers them (mcp_core autodiscovers `tools`)."""

from . import billing, calendar_sync, messaging, retell, webhooks  # noqa: F401
