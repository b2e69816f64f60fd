from typing import Any

from django.core.management.base import CommandParser

from common.command import JsonCommand
from tenants import services
from tenants.enums import Plan


class Command(JsonCommand):
    help = "Create a tenant with its subscription and a first owner API key (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("name", help="the business's name, e.g. 'Friseur Müller'")
        parser.add_argument("--plan", required=True, choices=Plan.values)

    def run(self, **options: Any) -> dict[str, Any]:
        company, key = services.tenant_create(
            name=options["name"], plan=options["plan"], actor="cli:create_tenant"
        )
        return {"tenant_id": company.pk, "api_key": key.plaintext}

    def render(self, result: dict[str, Any]) -> str:
        return (
            f"Tenant {result['tenant_id']} created.\n"
            f"Owner API key (shown once, store it now): {result['api_key']}"
        )
