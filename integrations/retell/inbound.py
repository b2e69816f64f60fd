"""Retell's inbound-call webhook (`call_inbound`): which agent answers, with which variables.

The routing service decides (`routing.services.inbound_call_answer`). Retell lets the caller
ring while it waits (10 s, then retries), and hangs up when every attempt fails and the number
has no agent of its own, so whatever goes wrong here the answer is still a valid one: routing
answers an unknown number with the default agent (RETELL_DEFAULT_AGENT_ID), and should routing
itself fail, an empty `call_inbound` object makes Retell use the agent configured on the number
in its dashboard.
"""

from __future__ import annotations

from typing import Any

from mcp_core.observability import logger
from routing.services import inbound_call_answer


def routed_answer(*, to_number: str, from_number: str) -> dict[str, Any]:
    """The routing service's answer: the `call_inbound` object Retell reads."""
    answer = inbound_call_answer(to_number=to_number, from_number=from_number)
    body: dict[str, Any] = answer.as_retell_response()["call_inbound"]
    return body


def safe_answer(*, to_number: str, from_number: str) -> dict[str, Any]:
    """`routed_answer`, or the empty default when routing fails. Never raises."""
    try:
        return routed_answer(to_number=to_number, from_number=from_number)
    except Exception:
        logger.exception("retell.inbound_routing_failed", to_number=to_number)
        return {}
