import datetime as dt
import json
import shlex
import zoneinfo
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from common.command import JsonCommand
from mcp_core.management.demo import seed_demo

FIRST_BOOKING_SERVICE = "Herrenhaarschnitt"


def next_monday() -> dt.date:
    """The Monday of next week in Berlin, the README tour's day."""
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo("Europe/Berlin"))
    return today + dt.timedelta(days=7 - today.weekday())


def first_booking_curl(result: dict[str, Any], port: int) -> str:
    """A booking request that works when pasted while `make run` serves: the first branch,
    the men's cut, next Monday 15:00 branch time; the idempotency key makes a second paste
    answer the same booking."""
    service = next(s for s in result["services"] if s["name"] == FIRST_BOOKING_SERVICE)
    day = next_monday()
    body = {
        "service_id": service["id"],
        "branch_id": result["branches"][0]["id"],
        "start_time": f"{day.isoformat()}T15:00:00",
        "customer_phone": "0151 23456789",
        "customer_name": "Jana Beispiel",
        "idempotency_key": f"first-call-{day.isoformat()}",
    }
    return " ".join(
        [
            "curl -s -X POST",
            f"http://127.0.0.1:{port}/api/v2/mcp/bookings",
            "-H " + shlex.quote(f"Authorization: Bearer {result['api_key']}"),
            "-H 'Content-Type: application/json'",
            "-d",
            shlex.quote(json.dumps(body, ensure_ascii=False)),
        ]
    )


class Command(JsonCommand):
    help = "Create or restore the demo tenant 'Salon Sonnenschein' (idempotent)."
    port = 8000

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--port", type=int, default=8000, help="the port the printed curl addresses"
        )

    def run(self, **options: Any) -> dict[str, Any]:
        self.port = options["port"]
        return seed_demo()

    def render(self, result: dict[str, Any]) -> str:
        lines = [
            f"Demo tenant 'Salon Sonnenschein' ready (tenant id {result['tenant_id']}).",
            f"  API key:   {result['api_key']}",
            f"  Admin:     {result['admin']['username']} / {result['admin']['password']}",
            f"  Operator:  {result['operator']['username']} / {result['operator']['password']}"
            "  (sees only this tenant)",
        ]
        lines += [f"  Branch {b['id']}: {b['name']}" for b in result["branches"]]
        lines += [
            f"  Service {s['id']}: {s['name']} ({s['duration']} min)" for s in result["services"]
        ]
        lines += [
            f"  Phone {p['number']} → branch {p['branch_id']}" for p in result["phone_numbers"]
        ]
        lines += [
            "",
            "A first booking (paste it into a second terminal while the server runs):",
            "",
            first_booking_curl(result, self.port),
        ]
        return "\n".join(lines)
