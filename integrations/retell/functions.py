"""Retell custom functions (docs/contract.md): what the phone agent calls mid-call, by name.

Each function is a thin adapter onto the orchestrator and answers `{"result": "<German
sentence the agent reads out>", "data": {...}}`; every failure becomes a sentence the agent
can say (with `data.error` for the LLM), never a 500 or a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError

from common.errors import ErrorType
from integrations.retell.booking_functions import (
    book_appointment,
    cancel_appointment,
    check_availability,
    reschedule_appointment,
)
from integrations.retell.branch_functions import find_nearest_branch, route_call, transfer_call
from integrations.retell.lines import line_for
from integrations.retell.requests import UNAVAILABLE, Answer, Call, Say
from mcp_core.observability import logger

FUNCTIONS: dict[str, Callable[[Call], Answer]] = {
    "check_availability": check_availability,
    "book_appointment": book_appointment,
    "cancel_appointment": cancel_appointment,
    "reschedule_appointment": reschedule_appointment,
    "find_nearest_branch": find_nearest_branch,
    "route_call": route_call,
    "transfer_call": transfer_call,
}


def answer(body: dict[str, Any]) -> Answer:
    """The answer to one custom-function request body `{name, args, call}` (args at the root
    when the tool is configured with `args_at_root`). Never raises."""
    name = body.get("name")
    raw_call = body.get("call")
    call: dict[str, Any] = raw_call if isinstance(raw_call, dict) else {}
    args = body.get("args", {k: v for k, v in body.items() if k not in ("name", "call")})
    if not isinstance(args, dict):
        args = {}
    handler = FUNCTIONS.get(name) if isinstance(name, str) else None
    if handler is None or not isinstance(name, str):
        return Answer(
            "Diese Funktion kenne ich nicht.",
            {"error": {"type": "unknown_function", "name": str(name)[:64]}},
        )
    try:
        line = line_for(call.get("to_number"), call.get("agent_id"))
        if line is None:
            return Answer(
                "Diese Rufnummer ist bei uns nicht eingerichtet; ich kann hier leider keine "
                "Termine verwalten.",
                {"error": {"type": "line_unknown"}},
            )
        return handler(Call(line=line, call=call, args=args, name=name))
    except Say as refusal:
        return refusal.answer
    except DatabaseError:
        logger.warning("retell.database_unavailable", function=name)
        return Answer(UNAVAILABLE, {"error": {"type": ErrorType.SERVICE_UNAVAILABLE.name.lower()}})
    except Exception:
        logger.exception("retell.function_failed", function=name, call_id=call.get("call_id"))
        return Answer(
            "Da ist leider etwas schiefgegangen. Ich verbinde Sie gern mit einem Mitarbeiter.",
            {"error": {"type": "internal"}},
        )
