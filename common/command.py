"""Base for our management commands: `--json` output and errors in the contract's envelope."""

from __future__ import annotations

import json
import sys
from abc import ABCMeta, abstractmethod
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import ApplicationError


class JsonCommand(BaseCommand, metaclass=ABCMeta):
    """Subclasses implement `run(**options)` returning a dict (printed as JSON with --json) and
    `render(result)` for the human-readable form."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    @abstractmethod
    def run(self, **options: Any) -> dict[str, Any]: ...

    def render(self, result: dict[str, Any]) -> str:
        return json.dumps(result, indent=2, ensure_ascii=False)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = self.run(**options)
        except ApplicationError as exc:
            if options["json"]:
                self.stdout.write(json.dumps(exc.envelope(), ensure_ascii=False))
                sys.exit(1)
            details = "; ".join(
                f"{field}: {' '.join(msgs) if isinstance(msgs, list) else msgs}"
                for field, msgs in exc.details.items()
            )
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        else:
            self.stdout.write(self.render(result))
