"""MCP prompts for the common jobs, and argument completion for service and branch names."""

from __future__ import annotations

from typing import Any

from mcp_core.auth import Principal
from mcp_core.mcp_calls import INVALID_PARAMS, McpCallError, read

COMPLETION_LIMIT = 100

PROMPTS: dict[str, dict[str, Any]] = {
    "book_appointment": {
        "title": "Termin für einen Anrufer buchen",
        "description": "Book an appointment for a caller: find a free time, then book it.",
        "arguments": [
            {"name": "caller_phone", "description": "The caller's phone number.", "required": True},
            {"name": "service", "description": "The service's name.", "required": False},
            {"name": "branch", "description": "The branch's name.", "required": False},
            {"name": "wish", "description": "Wished day or time, in words.", "required": False},
        ],
        "text": (
            "Buche einen Termin für den Anrufer mit der Nummer {caller_phone}. Leistung: "
            "{service}. Filiale: {branch}. Wunschtermin: {wish}. Suche zuerst mit "
            "booking_checkAvailability freie Zeiten, schlage sie vor und buche erst nach "
            "Bestätigung mit booking_createBooking; nenne dann die Bestätigungsnummer."
        ),
    },
    "move_appointment": {
        "title": "Termin eines Kunden verschieben",
        "description": "Move a customer's appointment to another free time.",
        "arguments": [
            {"name": "customer", "description": "Phone number or name.", "required": True},
            {"name": "new_time", "description": "The wished new time.", "required": False},
        ],
        "text": (
            "Verschiebe den Termin des Kunden {customer} auf {new_time}. Finde den Kunden mit "
            "customer_findCustomer und seine Termine mit customer_listCustomerBookings, prüfe "
            "die neue Zeit mit booking_checkAvailability und verschiebe mit "
            "booking_rescheduleBooking. Frage nach, wenn mehrere Termine in Frage kommen."
        ),
    },
    "summarize_day": {
        "title": "Tag zusammenfassen",
        "description": "Summarise a day's appointments for a branch or the whole business.",
        "arguments": [
            {
                "name": "date",
                "description": "The day (YYYY-MM-DD); today if empty.",
                "required": False,
            },
            {"name": "branch", "description": "The branch's name.", "required": False},
        ],
        "text": (
            "Fasse den Tag {date} für die Filiale {branch} zusammen: lies die Termine mit "
            "booking_listBookings (oder die Ressource askproai://schedule/today), nenne Anzahl, "
            "Auslastung je Mitarbeiter, Lücken, Absagen und offene Bestätigungen."
        ),
    },
}
_UNSET = {"service": "beliebig", "branch": "beliebig", "wish": "offen", "new_time": "offen"}
_UNSET |= {"date": "heute"}


def prompt_list() -> list[dict[str, Any]]:
    return [
        {key: value for key, value in {"name": name, **spec}.items() if key != "text"}
        for name, spec in PROMPTS.items()
    ]


def prompt_get(name: Any, arguments: Any) -> dict[str, Any]:
    spec = PROMPTS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise McpCallError(INVALID_PARAMS, f"Unknown prompt: {name}", {"name": name})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict) or not all(isinstance(v, str) for v in arguments.values()):
        raise McpCallError(INVALID_PARAMS, "Prompt arguments must be strings.")
    missing = [
        a["name"] for a in spec["arguments"] if a["required"] and not arguments.get(a["name"])
    ]
    if missing:
        raise McpCallError(INVALID_PARAMS, "Missing prompt arguments.", {"missing": missing})
    values = {
        a["name"]: arguments.get(a["name"]) or _UNSET.get(a["name"], "") for a in spec["arguments"]
    }
    return {
        "description": spec["description"],
        "messages": [
            {"role": "user", "content": {"type": "text", "text": spec["text"].format(**values)}}
        ],
    }


def complete(principal: Principal, params: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """Names of the tenant's services or branches that start with what was typed."""
    ref, argument = params.get("ref"), params.get("argument")
    if not isinstance(ref, dict) or not isinstance(argument, dict):
        raise McpCallError(INVALID_PARAMS, "completion/complete needs ref and argument.")
    typed = str(argument.get("value", "")).casefold()
    names = _names(principal, argument.get("name"), correlation_id)
    if ref.get("type") != "ref/prompt" or ref.get("name") not in PROMPTS:
        names = []
    matches = sorted({n for n in names if n.casefold().startswith(typed)})
    return {
        "completion": {
            "values": matches[:COMPLETION_LIMIT],
            "total": len(matches),
            "hasMore": len(matches) > COMPLETION_LIMIT,
        }
    }


def _names(principal: Principal, argument: Any, correlation_id: str) -> list[str]:
    if argument == "service":
        services = read(principal, "staff.listServices", {"active": True}, correlation_id)
        return [s["name"] for s in services["services"]]
    if argument == "branch":
        names, page = [], 1
        while page:
            listed = read(principal, "tenant.listBranches", {"page": page}, correlation_id)
            names += [b["name"] for b in listed["branches"]]
            page = listed.get("next_page")
        return names
    return []
