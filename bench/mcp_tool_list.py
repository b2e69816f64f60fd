"""What `tools/list` puts into an assistant's context: bytes and an estimate of tokens.

    .venv/bin/python bench/mcp_tool_list.py

Builds a temporary SQLite database with an owner's API key and reads the whole list (every
page) through `POST /mcp` with Django's test client: the default toolsets, and `?toolsets=all`.
The baseline, built in the same run, is the list as it was before the lean schemas: pydantic's
own input and output schemas (titles, output descriptions, nothing shared under $defs), the
same descriptions and annotations, written with json's default separators. Tokens are
estimated as bytes / 4 (no tokenizer is installed offline). One JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import start_django  # noqa: E402

DB = Path(tempfile.mkdtemp()) / "tool_list.sqlite3"
start_django({"DATABASE_URL": f"sqlite:///{DB}"})

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from mcp_core.operations import registry  # noqa: E402
from tenants.api_keys import generate_key  # noqa: E402
from tenants.models import ApiKey, Company  # noqa: E402


def _read_list(client: Client, token: str, query: str) -> bytes:
    tools: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"cursor": cursor} if cursor else {}
        response = client.post(
            f"/mcp{query}",
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
        )
        result = response.json()["result"]
        tools += result["tools"]
        cursor = result.get("nextCursor")
        if cursor is None:
            return json.dumps({"tools": tools}, separators=(",", ":")).encode()


def _figures(payload: bytes) -> dict[str, int]:
    tools = json.loads(payload)["tools"]
    return {
        "tools": len(tools),
        "bytes": len(payload),
        "tokens_estimate": len(payload) // 4,
        "largest_tool_bytes": max(len(json.dumps(t, separators=(",", ":"))) for t in tools),
    }


def main() -> None:
    call_command("migrate", verbosity=0)
    tenant = Company.objects.create(name="Bench GmbH", slug="bench", email="b@example.com")
    key = generate_key()
    ApiKey.objects.create(tenant=tenant, role="owner", prefix=key.prefix, key_hash=key.key_hash)
    client = Client()
    baseline = json.dumps(
        {
            "tools": [
                {
                    "name": op.tool_name,
                    "title": op.title or op.name,
                    "description": op.description,
                    "inputSchema": op.input.model_json_schema(mode="validation"),
                    "outputSchema": op.output.model_json_schema(mode="serialization"),
                    "annotations": {
                        "title": op.title or op.name,
                        "readOnlyHint": op.read_only,
                        "destructiveHint": op.destructive,
                        "idempotentHint": op.idempotent,
                        "openWorldHint": op.open_world,
                    },
                }
                for op in registry
            ]
        }
    ).encode()
    default = _figures(_read_list(client, key.plaintext, ""))
    full = _figures(_read_list(client, key.plaintext, "?toolsets=all"))
    before = _figures(baseline)
    print(
        json.dumps(
            {
                "before_full": before,
                "default": default,
                "full": full,
                "default_vs_before": round(default["bytes"] / before["bytes"], 3),
                "full_vs_before": round(full["bytes"] / before["bytes"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
