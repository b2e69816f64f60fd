"""MCP resources: the tenant's branches, each branch's opening hours, its services and
today's schedule — read-only, as the caller's tenant, paginated (resources/list by cursor, a
resource's pages by `?page=N`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from mcp_core.auth import Principal
from mcp_core.mcp_calls import INVALID_PARAMS, RESOURCE_NOT_FOUND, McpCallError, read

SCHEME = "askproai://"
MIME = "application/json"
STATIC = (
    ("branches", "Filialen", "The tenant's branches with address, phone and hours."),
    ("services", "Leistungen", "The service catalogue: duration, price, branches, staff."),
    ("schedule/today", "Heute", "Today's appointments (the tenant's time zone)."),
)
TEMPLATES = (
    (
        "branches/{branch_id}/opening-hours",
        "Öffnungszeiten",
        "A branch's weekly opening hours (business_hours) and time zone.",
    ),
)
_HOURS = re.compile(r"^branches/(\d{1,18})/opening-hours$")
_PAGED = re.compile(r"^(branches|schedule/today)(?:\?page=(\d{1,6}))?$")


def resource_templates() -> list[dict[str, Any]]:
    return [
        {"uriTemplate": SCHEME + path, "name": name, "description": text, "mimeType": MIME}
        for path, name, text in TEMPLATES
    ]


def resource_entries(principal: Principal, correlation_id: str) -> list[dict[str, Any]]:
    """Every resource of the tenant: the fixed ones, then one opening-hours per branch."""
    entries = [
        {"uri": SCHEME + path, "name": name, "description": text, "mimeType": MIME}
        for path, name, text in STATIC
    ]
    page: int | None = 1
    while page is not None:
        listed = read(principal, "tenant.listBranches", {"page": page}, correlation_id)
        for branch in listed["branches"]:
            entries.append(
                {
                    "uri": f"{SCHEME}branches/{branch['id']}/opening-hours",
                    "name": f"Öffnungszeiten {branch['name']}",
                    "mimeType": MIME,
                }
            )
        page = listed.get("next_page")
    return entries


def read_resource(principal: Principal, uri: str, correlation_id: str) -> dict[str, Any]:
    if not uri.startswith(SCHEME):
        raise McpCallError(RESOURCE_NOT_FOUND, "Resource not found.", {"uri": uri})
    path = uri[len(SCHEME) :]
    content = _content(principal, path, correlation_id)
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return {"contents": [{"uri": uri, "mimeType": MIME, "text": text}]}


def _content(principal: Principal, path: str, correlation_id: str) -> Any:
    if path == "services":
        return read(principal, "staff.listServices", {}, correlation_id)
    if hours := _HOURS.match(path):
        branch = read(
            principal, "tenant.getBranch", {"branch_id": int(hours.group(1))}, correlation_id
        )["branch"]
        return {key: branch.get(key) for key in ("id", "name", "time_zone", "business_hours")}
    if paged := _PAGED.match(path):
        page = int(paged.group(2) or 1)
        if page < 1:
            raise McpCallError(INVALID_PARAMS, "page must be at least 1.", {"page": page})
        if paged.group(1) == "branches":
            return read(principal, "tenant.listBranches", {"page": page}, correlation_id)
        today = _today(principal)
        return read(
            principal, "booking.listBookings", {"date": today, "page": page}, correlation_id
        )
    raise McpCallError(RESOURCE_NOT_FOUND, "Resource not found.", {"uri": SCHEME + path})


def _today(principal: Principal) -> str:
    zone = ZoneInfo(principal.tenant.time_zone or "Europe/Berlin")
    now: datetime = timezone.now()
    return now.astimezone(zone).date().isoformat()
