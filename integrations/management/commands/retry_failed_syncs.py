"""manage.py retry_failed_syncs: deliver dead-lettered side effects (calendar syncs, customer
notifications) again, through integration.retryFailedSync for each tenant concerned."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mcp_core.auth import Principal
from mcp_core.models import OutboxMessage, OutboxStatus
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from tenants.models import Company


class Command(BaseCommand):
    help = (
        "Deliver dead-lettered outbox messages again (all tenants, or --tenant ID); "
        "--all also retries the pending ones now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", type=int, help="only this tenant's messages")
        parser.add_argument("--topic", help="only this topic, e.g. calendar.sync")
        parser.add_argument("--appointment", type=int, help="only this appointment's messages")
        parser.add_argument(
            "--all", action="store_true", help="also pending messages, not only dead ones"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tenant"] is not None:
            tenant_ids = [options["tenant"]]
            if not Company.objects.filter(pk=options["tenant"]).exists():
                raise CommandError(f"no tenant {options['tenant']}")
        else:
            statuses = [OutboxStatus.DEAD] + ([OutboxStatus.PENDING] if options["all"] else [])
            tenant_ids = sorted(
                set(
                    # all_tenants: without --tenant the command replays every tenant's.
                    OutboxMessage.objects.all_tenants()
                    .filter(status__in=statuses)
                    .values_list("tenant_id", flat=True)
                )
            )
        arguments: dict[str, Any] = {"scope": "all" if options["all"] else "dead"}
        if options["topic"]:
            arguments["topic"] = options["topic"]
        if options["appointment"] is not None:
            arguments["appointment_id"] = options["appointment"]
        report: dict[str, Any] = {"tenants": {}, "requeued": 0}
        failed = False
        for tenant in Company.objects.filter(pk__in=tenant_ids).order_by("pk"):
            principal = Principal.system(tenant, "cli", Role.OWNER)
            result = execute_named(
                principal, "integration.retryFailedSync", arguments, source="cli"
            )
            if result.error is not None:
                failed = True
                report["tenants"][str(tenant.pk)] = result.error.envelope(result.correlation_id)
                continue
            data = result.data or {}
            report["tenants"][str(tenant.pk)] = data
            report["requeued"] += data.get("requeued", 0)
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self.stdout.write(f"requeued {report['requeued']} message(s)")
            for tenant_id, data in report["tenants"].items():
                self.stdout.write(f"  tenant {tenant_id}: {json.dumps(data, ensure_ascii=False)}")
        if failed:
            sys.exit(1)
