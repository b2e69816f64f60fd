"""/mcp driven by the official `mcp` Python SDK client (2.x) over Streamable HTTP against a live
server: default mode (2026-07-28 discover) and handshake mode (initialize)."""

import asyncio
import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.factories import ApiKeyFactory, BranchFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def _session(url: str, token: str, mode: str, work):
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        return await work(client)


async def _list_all(client):
    tools, cursor = [], None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools


@pytest.fixture
def tenant_key():
    api_key, plaintext = ApiKeyFactory.create_with_plaintext(role="owner")
    BranchFactory(tenant=api_key.tenant, name="Berlin Mitte")
    return api_key, plaintext


@pytest.mark.parametrize(
    ("mode", "expected_version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")]
)
def test_sdk_client_lists_and_calls_tools(live_server, tenant_key, mode, expected_version):
    api_key, token = tenant_key
    url = f"{live_server.url}/mcp?toolsets=all"

    async def work(client):
        tools = await _list_all(client)
        ok = await client.call_tool("tenant_getTenant", {})
        failed = await client.call_tool("tenant_getBranch", {"branch_id": 999999})
        invalid = await client.call_tool("tenant_getBranch", {"branch_id": "not a number"})
        return client.protocol_version, tools, ok, failed, invalid

    version, tools, ok, failed, invalid = asyncio.run(_session(url, token, mode, work))

    assert version == expected_version
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names)) and "tenant_getTenant" in names
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert tool.description
        assert tool.output_schema is not None
    assert ok.is_error is False
    assert ok.structured_content["tenant"]["id"] == api_key.tenant_id
    assert json.loads(ok.content[0].text) == ok.structured_content
    assert failed.is_error is True
    assert json.loads(failed.content[0].text)["error"]["type"] == "RESOURCE_NOT_FOUND"
    assert invalid.is_error is True
    assert json.loads(invalid.content[0].text)["error"]["type"] == "VALIDATION_FAILED"
    assert "branch_id" in json.loads(invalid.content[0].text)["error"]["details"]


def test_sdk_client_unknown_tool_is_a_protocol_error(live_server, tenant_key):
    _, token = tenant_key

    async def work(client):
        with pytest.raises(MCPError) as exc:
            await client.call_tool("no_such_tool", {})
        return exc.value

    error = asyncio.run(_session(f"{live_server.url}/mcp", token, "legacy", work))
    assert error.error.code == -32602


def test_sdk_client_ping_in_handshake_mode(live_server, tenant_key):
    _, token = tenant_key

    async def work(client):
        await client.send_ping()
        return True

    assert asyncio.run(_session(f"{live_server.url}/mcp", token, "legacy", work)) is True
