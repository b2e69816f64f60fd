import sys
from typing import Any

from django.core.management.base import CommandParser

from bookings.customer_selectors import InvalidCustomerInput, customer_tenant
from bookings.services import customer_erase
from bookings.tools.customer import erasure_output
from common.command import JsonCommand


class Command(JsonCommand):
    help = (
        "GDPR right to erasure: anonymise one customer for good (name, e-mail, notes, "
        "consents, phone number; their calls' numbers and transcripts; audit entries), "
        "keeping appointments for the statistics. Asks for confirmation unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--customer", required=True, type=int, help="customer id")
        parser.add_argument(
            "--tenant", type=int, help="tenant id (optional: the customer's tenant)"
        )
        parser.add_argument("--yes", action="store_true", help="erase without asking")

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = customer_tenant(customer_id=options["customer"], tenant_id=options["tenant"])
        if not options["yes"] and not self._confirmed(options):
            raise InvalidCustomerInput(
                "Erasure cannot be undone; confirm it with --yes.",
                details={"yes": ["Required to erase without a prompt."]},
            )
        result = customer_erase(
            tenant=tenant, actor="cli:gdpr_erase", customer_id=options["customer"]
        )
        return erasure_output(result).model_dump(mode="json")

    def _confirmed(self, options: dict[str, Any]) -> bool:
        if options["json"] or not sys.stdin.isatty():
            return False
        answer = input(f"Erase the personal data of customer {options['customer']}? [yes/no] ")
        return answer.strip().lower() == "yes"

    def render(self, result: dict[str, Any]) -> str:
        if result["already_erased"]:
            head = f"Customer {result['customer_id']} was already erased ({result['erased_at']})."
        else:
            head = f"Customer {result['customer_id']} erased at {result['erased_at']}."
        return (
            f"{head}\n  appointments kept: {result['appointments_kept']}\n"
            f"  calls scrubbed: {result['call_logs_scrubbed']}\n"
            f"  audit entries redacted: {result['audit_entries_redacted']}"
        )
