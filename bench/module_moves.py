"""How often one phone booking crosses from one of our modules into another.

    .venv/bin/python bench/module_moves.py

Builds a temporary SQLite database with the demo tenant, then sends what Retell sends when a
caller books: a signed `POST /webhooks/retell/functions` with `book_appointment`, through
Django's test client (the whole front door: signature, function, orchestrator, services, saga,
outbox, SMS through the console backend). While the second such call runs (the first imports
and warms everything), a profiler notes every call from a function of one project module into
a function of another. One JSON line: `moves` (those calls), `moves_outside_base` and
`distinct_edges_outside_base` (the same without calls into the base layer, which imports
nothing of ours and is called like a library), `modules` (the project modules
entered, in order of first entry), `edges` (the moves per caller and callee module, most
first) and `path` (the sequence of modules, repeats folded).
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


def traced_booking(client: Client) -> dict[str, Any]:
    stack: list[str] = []  # the nearest project module of each frame on the stack
    moves = 0
    edges: dict[str, int] = {}
    path: list[str] = []
    first_entered: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        nonlocal moves
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            caller = stack[-1] if stack else ""
            current = module if ours(module) else caller
            if current and current != caller and caller:
                moves += 1
                edges[f"{caller} -> {current}"] = edges.get(f"{caller} -> {current}", 0) + 1
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
    by_count = dict(sorted(edges.items(), key=lambda item: (-item[1], item[0])))
    handoffs = {
        edge: count
        for edge, count in by_count.items()
        if not edge.split(" -> ")[1].startswith(BASE)
    }
    return {
        "moves": moves,
        "moves_outside_base": sum(handoffs.values()),
        "distinct_edges_outside_base": len(handoffs),
        "modules": first_entered,
        "edges": by_count,
        "path": path,
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
