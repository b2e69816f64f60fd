"""Helpers of the routing tests.

The fixtures (conftest.py): a tenant "Salon Sonnenschein" with Berlin Mitte and Hamburg
Altona (default hours Mon–Fri 09:00–18:00, Sat 09:00–14:00, Sunday closed, Europe/Berlin),
one German number each, and `now` fixed at Wednesday 2027-06-02 10:00 in Berlin (both open)
unless a test travels."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from mcp_core.models import AuditLog
from tenants.models import Company

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2027, 6, 2, 10, 0, tzinfo=BERLIN)  # a Wednesday
SUNDAY = dt.datetime(2027, 6, 6, 11, 0, tzinfo=BERLIN)
BERLIN_NUMBER = "+493012345670"
HAMBURG_NUMBER = "+494012345670"


def audit_actions(tenant: Company) -> list[str]:
    return [row.action for row in AuditLog.objects.for_tenant(tenant).order_by("pk")]
