"""Federated upstreams over stdio (the npm servers .ci/run installs), driven by the official
`mcp` SDK client through our /mcp."""

import asyncio
import json
import os
import signal
import time

import pytest

from mcp_core.federation.sessions import close_pool
from mcp_core.models import AuditLog
from tests.factories import ApiKeyFactory
from tests.mcp_core.federation_helpers import alive, children, list_all, mcp_session, upstream_cli

pytestmark = [pytest.mark.mcp_servers, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _sessions_closed():
    yield
    close_pool()


@pytest.fixture
def memory(mcp_servers, tmp_path):
    return upstream_cli(
        "add",
        "memory",
        "--stdio",
        str(mcp_servers / "mcp-server-memory"),
        "--env",
        f"MEMORY_FILE_PATH={tmp_path}/memory-{{tenant_id}}.jsonl",
    )


ENTITY = {"name": "Salon Aurora", "entityType": "customer", "observations": ["mag Termine früh"]}


def test_tool_list_memory_per_tenant_and_thinking(live_server, mcp_servers, memory, tmp_path):
    thinking = upstream_cli(
        "add", "thinking", "--stdio", str(mcp_servers / "mcp-server-sequential-thinking")
    )
    assert memory["status"] == "healthy" and "memory_create_entities" in memory["tools"]
    assert thinking["tools"] == ["thinking_sequentialthinking"]
    key_a, token_a = ApiKeyFactory.create_with_plaintext(role="owner")
    key_b, token_b = ApiKeyFactory.create_with_plaintext(role="owner")
    url = f"{live_server.url}/mcp?toolsets=all"

    async def as_a(client):
        tools = await list_all(client)
        created = await client.call_tool("memory_create_entities", {"entities": [ENTITY]})
        graph = await client.call_tool("memory_read_graph", {})
        thought = await client.call_tool(
            "thinking_sequentialthinking",
            {
                "thought": "Zuerst freie Termine in Berlin prüfen.",
                "nextThoughtNeeded": False,
                "thoughtNumber": 1,
                "totalThoughts": 1,
            },
        )
        return tools, created, graph, thought

    tools, created, graph_a, thought = asyncio.run(mcp_session(url, token_a, as_a))

    by_name = {tool.name: tool for tool in tools}
    assert "tenant_getTenant" in by_name and "memory_read_graph" in by_name
    assert "thinking_sequentialthinking" in by_name
    assert all(len(name) <= 64 for name in by_name)
    assert by_name["thinking_sequentialthinking"].input_schema["required"] == [
        "thought",
        "nextThoughtNeeded",
        "thoughtNumber",
        "totalThoughts",
    ]
    assert by_name["memory_create_entities"].description
    assert created.is_error is False
    assert json.loads(graph_a.content[0].text)["entities"] == [ENTITY]
    assert thought.is_error is False
    assert json.loads(thought.content[0].text)["thoughtNumber"] == 1

    async def as_b(client):
        return await client.call_tool("memory_read_graph", {})

    graph_b = asyncio.run(mcp_session(url, token_b, as_b))
    assert json.loads(graph_b.content[0].text) == {"entities": [], "relations": []}
    assert "Salon Aurora" in (tmp_path / f"memory-{key_a.tenant_id}.jsonl").read_text()
    assert not (tmp_path / f"memory-{key_b.tenant_id}.jsonl").exists()
    # One audit row per call, in the caller's tenant only.
    calls_a = AuditLog.objects.for_tenant(key_a.tenant).filter(action="upstream.tool_called")
    assert sorted(row.changes["tool"] for row in calls_a) == [
        "create_entities",
        "read_graph",
        "sequentialthinking",
    ]
    assert {row.actor for row in calls_a} == {f"api_key:{key_a.prefix}"}
    assert (
        AuditLog.objects.for_tenant(key_b.tenant).filter(action="upstream.tool_called").count() == 1
    )


def test_a_killed_upstream_fails_one_call_then_is_restarted(live_server, memory):
    _, token = ApiKeyFactory.create_with_plaintext(role="owner")
    url = f"{live_server.url}/mcp?toolsets=all"

    async def read(client):
        return await client.call_tool("memory_read_graph", {})

    assert asyncio.run(mcp_session(url, token, read)).is_error is False
    [first] = children("server-memory")
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)

    failed = asyncio.run(mcp_session(url, token, read))
    assert failed.is_error is True
    envelope = json.loads(failed.content[0].text)["error"]
    assert envelope["type"] == "SERVICE_UNAVAILABLE"
    assert envelope["details"]["upstream"] == "memory"

    restarted: list[int] = []
    deadline = time.monotonic() + 15
    while not restarted and time.monotonic() < deadline:
        restarted = children("server-memory")
        time.sleep(0.05)
    assert restarted and restarted != [first]
    assert asyncio.run(mcp_session(url, token, read)).is_error is False
    assert children("server-memory") == restarted

    close_pool()
    assert not any(alive(pid) for pid in restarted)
    assert children("server-memory") == []
