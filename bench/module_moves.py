"""How often one phone booking crosses from one of our modules into another.

    .venv/bin/python bench/module_moves.py

Builds a temporary SQLite database with the demo tenant, then sends what Retell sends when a
caller books: a signed `POST /webhooks/retell/functions` with `book_appointment`, through
Django's test client (the whole front door: signature, function, orchestrator, services, saga,
outbox, SMS through the console backend). While the second such call runs (the first imports
and warms everything), a profiler notes every call from a function of one project module into
a function of another (a move; a call from library code is attributed to the nearest project
frame on the stack).

A move is a `direct` hand-off when the callee's immediate caller is our code (looking through
the standard library's `with`/decorator plumbing), a `callback` when it is a library's (Django
calling our DB router or execute_wrapper for every statement, pydantic calling a validator).
One JSON line: `moves` = `direct` + `callbacks`; the same `*_outside_base` (without calls into
the base layer, which imports nothing of ours and is called like a library);
`distinct_edges_outside_base`, `modules` (the project modules entered, in order of first
entry), `direct_edges` and `callback_edges` (the moves per caller and callee module, most
first), `callbacks_via` (the library function making each callback), `path` (the sequence of
modules, repeats folded) and `code_from` (where `bookings` was imported from: run on an older
checkout, it must be that checkout).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import start_django  # noqa: E402

PACKAGES: tuple[str, ...] = ("askproai", "common", "tenants", "staff", "bookings", "routing")
PACKAGES += ("integrations", "mcp_core")
# The base layer imports nothing of ours: a call into it is a library call, not a hand-off
# (before the base layer existed its modules lived in askproai, mcp_core and tenants).
BASE = ("common.", "askproai.phone", "askproai.pagination", "mcp_core.rows", "tenants.scoping")
# Standard-library plumbing between two of our frames (a `with` on our context manager, a
# decorator's wrapper): looked through, so such a call still counts as direct.
TRANSPARENT = ("contextlib", "functools")
SIGNING_KEY = "key_bench_module_moves"
BERLIN_NUMBER = "+493012345670"

DB = Path(tempfile.mkdtemp()) / "moves.sqlite3"
start_django({"DATABASE_URL": f"sqlite:///{DB}", "RETELL_API_KEY": SIGNING_KEY})

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from integrations.retell.signature import sign  # noqa: E402


def ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def book(client: Client, n: int) -> Any:
    body = json.dumps(
        {
            "name": "book_appointment",
            "args": {
                "service": "Herrenschnitt",
                "date": "nächsten Dienstag",
                "time": f"{9 + n}:00",
                "customer_name": "Erika Mustermann",
            },
            "call": {
                "call_type": "phone_call",
                "call_id": f"call_moves_{n}",
                "agent_id": "agent_demo_berlin_de",
                "call_status": "ongoing",
                "direction": "inbound",
                "from_number": f"+49157900012{n:02d}",
                "to_number": BERLIN_NUMBER,
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return client.post(
        "/webhooks/retell/functions",
        data=body.encode(),
        content_type="application/json",
        HTTP_X_RETELL_SIGNATURE=sign(body, SIGNING_KEY),
    )


def library_caller(frame: Any) -> str:
    """The module and function that called `frame` when that caller is not project code
    (after looking through the standard library's `with`/decorator plumbing), else ""."""
    caller = frame.f_back
    while caller is not None and caller.f_globals.get("__name__", "") in TRANSPARENT:
        caller = caller.f_back
    if caller is None:
        return "(no caller)"
    module = caller.f_globals.get("__name__", "")
    return "" if ours(module) else f"{module}.{caller.f_code.co_name}"


def counted(edges: dict[str, int]) -> dict[str, int]:
    return dict(sorted(edges.items(), key=lambda item: (-item[1], item[0])))


def outside_base(edges: dict[str, int]) -> dict[str, int]:
    return {edge: n for edge, n in edges.items() if not edge.split(" -> ")[1].startswith(BASE)}


def traced_booking(client: Client) -> dict[str, Any]:
    stack: list[str] = []  # the nearest project module of each frame on the stack
    direct: dict[str, int] = {}  # caller -> callee, the callee called by project code
    callbacks: dict[str, int] = {}  # the same, the callee called by a library
    via: dict[str, int] = {}  # the library function that made each callback
    path: list[str] = []
    first_entered: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            caller = stack[-1] if stack else ""
            current = module if ours(module) else caller
            if current and current != caller and caller:
                edge = f"{caller} -> {current}"
                library = library_caller(frame)
                if library:
                    callbacks[edge] = callbacks.get(edge, 0) + 1
                    key = f"{library} -> {current}"
                    via[key] = via.get(key, 0) + 1
                else:
                    direct[edge] = direct.get(edge, 0) + 1
            if current and (not path or path[-1] != current):
                path.append(current)
            if current and current not in first_entered:
                first_entered.append(current)
            stack.append(current)
        elif event == "return" and stack:
            stack.pop()
            if stack and stack[-1] and path and path[-1] != stack[-1]:
                path.append(stack[-1])

    sys.setprofile(profile)
    try:
        response = book(client, 2)
    finally:
        sys.setprofile(None)
    assert response.status_code == 200, response.content
    direct_handoffs = outside_base(direct)
    callback_handoffs = outside_base(callbacks)
    return {
        "moves": sum(direct.values()) + sum(callbacks.values()),
        "direct": sum(direct.values()),
        "callbacks": sum(callbacks.values()),
        "moves_outside_base": sum(direct_handoffs.values()) + sum(callback_handoffs.values()),
        "direct_outside_base": sum(direct_handoffs.values()),
        "callbacks_outside_base": sum(callback_handoffs.values()),
        "distinct_edges_outside_base": len(set(direct_handoffs) | set(callback_handoffs)),
        "distinct_direct_edges_outside_base": len(direct_handoffs),
        "modules": first_entered,
        "direct_edges": counted(direct),
        "callback_edges": counted(callbacks),
        "callbacks_via": counted(via),
        "path": path,
        "code_from": str(Path(sys.modules["bookings"].__file__ or "").resolve().parent.parent),
        "answer": response.json(),
    }


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    client = Client()
    warm = book(client, 1)
    assert warm.status_code == 200, warm.content
    result = traced_booking(client)
    print(json.dumps({"op": "phone_booking_module_moves", **result}, ensure_ascii=False))


if __name__ == "__main__":
    main()
