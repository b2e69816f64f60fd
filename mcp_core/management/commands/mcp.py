import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from common.errors import ApplicationError, ValidationFailed
from common.jsonbody import JsonBodyError, parse_json
from mcp_core.auth import Principal
from mcp_core.docs import render_markdown
from mcp_core.management import upstream_cli
from mcp_core.operations import registry
from mcp_core.orchestrator import execute_named
from mcp_core.permissions import Role
from tenants import selectors


class Command(BaseCommand):
    help = "The orchestrator from the shell: list operations, call one for a tenant, print docs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="every operation with its permission")
        listing.add_argument("--json", action="store_true")
        call = sub.add_parser("call", help="run SERVICE.OPERATION for a tenant")
        call.add_argument("name", help="e.g. tenant.getTenant")
        call.add_argument("--tenant", type=int, required=True, help="tenant id")
        call.add_argument(
            "--args", dest="arguments", default="{}", help="the arguments as a JSON object"
        )
        call.add_argument("--json", action="store_true", help="(output is always JSON)")
        sub.add_parser("docs", help="Markdown of every operation")
        upstream_cli.add_parser(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        # call_command() does not fill sub-command defaults, hence .get().
        if action == "list":
            self._list(bool(options.get("json")))
        elif action == "docs":
            self.stdout.write(render_markdown())
        elif action == "upstream":
            self._upstream(options)
        else:
            self._call(options["name"], options["tenant"], options.get("arguments") or "{}")

    def _list(self, as_json: bool) -> None:
        rows = [
            {
                "name": op.name,
                "tool": op.tool_name,
                "permission": str(op.permission),
                "read_only": op.read_only,
                "description": op.description,
            }
            for op in registry
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        for row in rows:
            self.stdout.write(f"{row['name']:<40} {row['permission']:<22} {row['description']}")

    def _upstream(self, options: dict[str, Any]) -> None:
        as_json = bool(options.get("json"))
        try:
            answer, text = upstream_cli.run(options)
        except ApplicationError as exc:
            if as_json:
                self._fail(exc)
            self.stderr.write(exc.message)
            raise SystemExit(1) from exc
        self.stdout.write(json.dumps(answer, ensure_ascii=False) if as_json else text)

    def _call(self, name: str, tenant_id: int, raw_args: str) -> None:
        # `call` always answers JSON: the result, or the envelope and exit status 1, whether the
        # tenant, the --args or the operation failed.
        try:
            tenant = selectors.tenant_get(tenant_id=tenant_id)
            arguments = parse_json(raw_args)
        except JsonBodyError as exc:
            self._fail(ValidationFailed(f"--args: {exc.message}", details=exc.details))
        except ApplicationError as exc:
            self._fail(exc)
        # The operator's shell acts with the owner's rights, as itself in the audit log.
        principal = Principal.system(tenant, "cli", Role.OWNER)
        result = execute_named(principal, name, arguments, source="cli")
        if result.error is not None:
            self._fail(result.error, result.correlation_id)
        self.stdout.write(json.dumps(result.data, ensure_ascii=False, indent=2))

    def _fail(self, error: ApplicationError, correlation_id: str = "") -> NoReturn:
        self.stdout.write(json.dumps(error.envelope(correlation_id), ensure_ascii=False))
        raise SystemExit(1)
