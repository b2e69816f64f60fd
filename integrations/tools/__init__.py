"""The integration.* operations (CONTRACT section 3), one module per integration; importing
this package registers them (mcp_core autodiscovers `tools`)."""

from . import calendar_sync, retell  # noqa: F401
