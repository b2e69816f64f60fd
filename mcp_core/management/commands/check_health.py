import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mcp_core.orchestrator import health_check


class Command(BaseCommand):
    help = "Check database, cache, broker and integrations; exit 1 when the service is down."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = health_check()
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(f"status: {report['status']}")
            for name, check in report["checks"].items():
                if name == "integrations":
                    for integration, state in check.items():
                        self.stdout.write(
                            f"  {integration}: {state['status']}, circuit {state['circuit']}"
                        )
                else:
                    self.stdout.write(f"  {name}: {check['status']}")
        if report["status"] == "down":
            sys.exit(1)
