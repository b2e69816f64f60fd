from typing import Any

from django.core.management.base import CommandParser

from common.command import JsonCommand
from mcp_core.permissions import Role
from tenants import selectors, services


class Command(JsonCommand):
    help = "Issue an API key for a tenant; only its hash is stored, the key is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", required=True, type=int, help="tenant id")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="", help="what the key is for")
        parser.add_argument(
            "--toolsets",
            default="",
            help="MCP toolsets listed when the client names none, e.g. booking,customer or all",
        )

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = selectors.tenant_get(tenant_id=options["tenant"])
        toolsets = [name.strip() for name in options["toolsets"].split(",") if name.strip()]
        created = services.api_key_create(
            tenant=tenant,
            actor="cli:create_api_key",
            role=options["role"],
            name=options["name"],
            toolsets=toolsets,
        )
        return {
            "api_key": created.plaintext,
            "prefix": created.api_key.prefix,
            "toolsets": created.api_key.toolsets,
        }

    def render(self, result: dict[str, Any]) -> str:
        return (
            f"API key (shown once, store it now): {result['api_key']}\nPrefix: {result['prefix']}"
        )
