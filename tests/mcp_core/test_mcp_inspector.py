"""MCP Inspector's CLI (npm @modelcontextprotocol/inspector) against the served /mcp endpoint.

CI installs it into .ci/node (see .ci/run); elsewhere set MCP_INSPECTOR to its binary.
"""

import json
import subprocess

import pytest

from tests.factories import ApiKeyFactory, BranchFactory

pytestmark = [pytest.mark.inspector, pytest.mark.django_db(transaction=True)]


def _inspector(binary: str, url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 — a fixed binary with our own arguments
        [
            binary,
            "--cli",
            url,
            "--transport",
            "http",
            "--stored-auth-only",
            "--header",
            f"Authorization: Bearer {token}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_inspector_lists_and_calls_tools(live_server, mcp_inspector):
    api_key, token = ApiKeyFactory.create_with_plaintext(role="owner")
    BranchFactory(tenant=api_key.tenant)
    url = f"{live_server.url}/mcp?toolsets=all"

    listed = _inspector(mcp_inspector, url, token, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    tools = json.loads(listed.stdout)["tools"]
    assert "tenant_getTenant" in [tool["name"] for tool in tools]

    called = _inspector(
        mcp_inspector, url, token, "--method", "tools/call", "--tool-name", "tenant_getTenant"
    )
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert result["isError"] is False
    assert result["structuredContent"]["tenant"]["id"] == api_key.tenant_id

    failed = _inspector(
        mcp_inspector,
        url,
        token,
        "--method",
        "tools/call",
        "--tool-name",
        "tenant_getBranch",
        "--tool-arg",
        "branch_id=999999",
    )
    assert failed.returncode == 5, failed.stdout + failed.stderr  # the CLI's tool_is_error


def test_inspector_without_key_is_refused(live_server, mcp_inspector):
    listed = _inspector(
        mcp_inspector, f"{live_server.url}/mcp", "apk_00000000_wrong", "--method", "tools/list"
    )
    assert listed.returncode != 0


def test_inspector_lists_tools_per_toolset_reads_a_resource_gets_a_prompt(
    live_server, mcp_inspector
):
    api_key, token = ApiKeyFactory.create_with_plaintext(role="owner")
    branch = BranchFactory(tenant=api_key.tenant, name="Berlin Mitte")
    url = f"{live_server.url}/mcp"

    default = _inspector(mcp_inspector, url, token, "--method", "tools/list")
    assert default.returncode == 0, default.stderr
    assert {t["name"].split("_")[0] for t in json.loads(default.stdout)["tools"]} == {
        "booking",
        "customer",
    }
    routing = _inspector(mcp_inspector, f"{url}?toolsets=routing", token, "--method", "tools/list")
    assert routing.returncode == 0, routing.stderr
    assert {t["name"].split("_")[0] for t in json.loads(routing.stdout)["tools"]} == {"routing"}

    read = _inspector(
        mcp_inspector,
        url,
        token,
        "--method",
        "resources/read",
        "--uri",
        f"askproai://branches/{branch.pk}/opening-hours",
    )
    assert read.returncode == 0, read.stdout + read.stderr
    hours = json.loads(json.loads(read.stdout)["contents"][0]["text"])
    assert hours["name"] == "Berlin Mitte"

    prompt = _inspector(
        mcp_inspector,
        url,
        token,
        "--method",
        "prompts/get",
        "--prompt-name",
        "move_appointment",
        "--prompt-args",
        "customer=+4930123456",
    )
    assert prompt.returncode == 0, prompt.stdout + prompt.stderr
    message = json.loads(prompt.stdout)["messages"][0]["content"]["text"]
    assert "+4930123456" in message
