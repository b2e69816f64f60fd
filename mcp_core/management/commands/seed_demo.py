from typing import Any

from common.command import JsonCommand
from mcp_core.management.demo import seed_demo


class Command(JsonCommand):
    help = "Create or restore the demo tenant 'Salon Sonnenschein' (idempotent)."

    def run(self, **options: Any) -> dict[str, Any]:
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
            f"  Phone {p['number']} → branch {p['branch_id']}" for p in result["phone_numbers"]
        ]
        return "\n".join(lines)
