from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from bookings.customer_selectors import customer_tenant
from bookings.services import customer_data_export
from bookings.tools.customer import export_output
from common.command import JsonCommand


class Command(JsonCommand):
    help = (
        "GDPR right of access: print everything held on one customer (profile, consents, "
        "appointments, calls, audit trail) as JSON. The export is recorded in the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--customer", required=True, type=int, help="customer id")
        parser.add_argument(
            "--tenant", type=int, help="tenant id (optional: the customer's tenant)"
        )

    def run(self, **options: Any) -> dict[str, Any]:
        data = customer_data_export(
            tenant=customer_tenant(customer_id=options["customer"], tenant_id=options["tenant"]),
            actor="cli:gdpr_export",
            customer_id=options["customer"],
        )
        return export_output(data, exported_at=timezone.now()).model_dump(mode="json")
