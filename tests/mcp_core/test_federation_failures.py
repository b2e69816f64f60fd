"""Upstreams that fail: Notion and GitHub without their APIs (the failed path: isError, the
breaker opens, `check` shows it), and no upstream process outliving the server process."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_core.federation.sessions import close_pool
from tests.factories import ApiKeyFactory
from tests.mcp_core.federation_helpers import alive, children, mcp_session, upstream_cli

pytestmark = [pytest.mark.mcp_servers, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _sessions_closed():
    yield
    close_pool()


@pytest.mark.parametrize(
    ("slug", "binary", "env", "tool", "arguments"),
    [
        # BASE_URL: Notion's API at a closed local port, so the test never depends on the net.
        (
            "notion",
            "notion-mcp-server",
            ["NOTION_TOKEN=ntn_test", "BASE_URL=http://127.0.0.1:9"],
            "API-get-self",
            {},
        ),
        (
            "github",
            "mcp-server-github",
            ["GITHUB_PERSONAL_ACCESS_TOKEN=ghp_test"],
            "search_repositories",
            {"query": "askproai"},
        ),
    ],
)
def test_an_upstream_without_its_api_fails_cleanly_and_opens_its_breaker(
    live_server, mcp_servers, settings, slug, binary, env, tool, arguments
):
    settings.MCP_CIRCUIT_FAILURE_THRESHOLD = 2
    key, token = ApiKeyFactory.create_with_plaintext(role="owner")
    pairs = [part for pair in env for part in ("--env", pair)]
    row = upstream_cli(
        "add", slug, "--stdio", str(mcp_servers / binary), *pairs, "--tenant", str(key.tenant_id)
    )
    # The server itself runs: it initializes and lists its tools.
    assert row["status"] == "healthy" and f"{slug}_{tool}" in row["tools"]

    async def work(client):
        return [await client.call_tool(f"{slug}_{tool}", arguments) for _ in range(3)]

    results = asyncio.run(mcp_session(f"{live_server.url}/mcp?toolsets=all", token, work))
    errors = [json.loads(result.content[0].text)["error"] for result in results]
    assert all(result.is_error for result in results)
    assert [error["type"] for error in errors] == [
        "INTEGRATION_ERROR",
        "INTEGRATION_ERROR",
        "SERVICE_UNAVAILABLE",
    ]
    assert errors[0]["details"]["upstream"] == slug
    assert "temporarily unavailable" in errors[2]["message"]
    listed = upstream_cli("list", "--tenant", str(key.tenant_id))
    assert [(entry["slug"], entry["circuit"]) for entry in listed] == [(slug, "open")]


OWNER_SCRIPT = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askproai.settings")
django.setup()
from mcp_core.federation.sessions import Target, pool
sessions = pool()
target = Target(key="memory", command=(sys.argv[1],), env=(("MEMORY_FILE_PATH", sys.argv[2]),))
sessions.run(sessions.list_tools(target, 30), 30)
print("ready", flush=True)
sys.stdin.readline()
sys.exit(0)
"""


@pytest.mark.parametrize("ending", ["exit", "SIGTERM", "SIGKILL"])
def test_no_upstream_process_outlives_the_server_process(mcp_servers, tmp_path, ending):
    owner = subprocess.Popen(  # noqa: S603 — our interpreter with our own script
        [
            sys.executable,
            "-c",
            OWNER_SCRIPT,
            str(mcp_servers / "mcp-server-memory"),
            str(tmp_path / "memory.jsonl"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert owner.stdin is not None and owner.stdout is not None
        assert owner.stdout.readline().strip() == "ready"
        [upstream] = children("server-memory", parent=owner.pid)
        if ending == "exit":
            owner.stdin.write("\n")
            owner.stdin.flush()
        else:
            owner.send_signal(getattr(signal, ending))
        owner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(upstream) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(upstream)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


@pytest.mark.inspector
def test_inspector_lists_and_calls_an_upstream_tool(
    live_server, mcp_servers, mcp_inspector, tmp_path
):
    upstream_cli(
        "add",
        "memory",
        "--stdio",
        str(mcp_servers / "mcp-server-memory"),
        "--env",
        f"MEMORY_FILE_PATH={tmp_path}/memory-{{tenant_id}}.jsonl",
    )
    _, token = ApiKeyFactory.create_with_plaintext(role="owner")
    base = [mcp_inspector, "--cli", f"{live_server.url}/mcp?toolsets=all", "--transport", "http"]
    base += ["--stored-auth-only", "--header", f"Authorization: Bearer {token}"]

    def inspect(*args: str) -> dict:
        done = subprocess.run(  # noqa: S603 — a fixed binary with our own arguments
            [*base, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    names = [tool["name"] for tool in inspect("--method", "tools/list")["tools"]]
    assert "memory_read_graph" in names and "tenant_getTenant" in names
    called = inspect("--method", "tools/call", "--tool-name", "memory_read_graph")
    assert called["isError"] is False
    assert json.loads(called["content"][0]["text"]) == {"entities": [], "relations": []}
