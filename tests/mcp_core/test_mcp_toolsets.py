"""Toolsets and the lean tool list: what `tools/list` puts into an assistant's context."""

import json

import pytest

from mcp_core.operations import registry
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def _list(client, token, *, query="", headers=None):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    tools, cursor, size = [], None, 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = client.post(
            f"/mcp{query}",
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
            **extra,
        )
        assert response.status_code == 200, response.content
        size += len(json.dumps(response.json()["result"]["tools"], separators=(",", ":")))
        result = response.json()["result"]
        tools += result["tools"]
        cursor = result.get("nextCursor")
        if cursor is None:
            return tools, size


@pytest.fixture
def owner_token():
    return ApiKeyFactory.create_with_plaintext(role="owner")[1]


def _services(tools):
    return {tool["name"].split("_")[0] for tool in tools}


def test_default_list_is_the_assistant_set(client, owner_token):
    tools, _ = _list(client, owner_token)
    assert _services(tools) == {"booking", "customer"}
    expected = [op.tool_name for op in registry if op.service in {"booking", "customer"}]
    assert [tool["name"] for tool in tools] == expected


def test_query_and_header_choose_toolsets(client, owner_token):
    by_query, _ = _list(client, owner_token, query="?toolsets=tenant,routing")
    assert _services(by_query) == {"tenant", "routing"}
    by_header, _ = _list(client, owner_token, headers={"MCP-Toolsets": "staff"})
    assert _services(by_header) == {"staff"}
    everything, _ = _list(client, owner_token, query="?toolsets=all")
    assert len(everything) == len(registry)


def test_unknown_toolset_is_a_clear_error(client, owner_token):
    response = client.post(
        "/mcp?toolsets=booking,bogus",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {owner_token}",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32602
    assert error["data"]["unknown"] == ["bogus"]
    assert "all" in error["data"]["available"] and "booking" in error["data"]["available"]


def test_a_tool_outside_the_loaded_set_can_still_be_called(client, owner_token):
    response = client.post(
        "/mcp",
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "tenant_getTenant", "arguments": {}},
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {owner_token}",
    )
    assert response.json()["result"]["isError"] is False


def _titled(schema):
    """Whether pydantic's restating titles or any description survive in a schema."""
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str) or "description" in schema:
            return True
        # Under properties and $defs the keys are names (a field may be called "description").
        nested = [
            *(v for key in ("properties", "$defs") for v in schema.get(key, {}).values()),
            *(v for key, v in schema.items() if key not in ("properties", "$defs")),
        ]
        return any(_titled(v) for v in nested)
    if isinstance(schema, list):
        return any(_titled(v) for v in schema)
    return False


def test_lean_list_is_a_third_of_the_verbose_one_and_keeps_constraints(client, owner_token):
    verbose = [
        {
            "name": op.tool_name,
            "title": op.title or op.name,
            "description": op.description,
            "inputSchema": op.input_schema(),
            "outputSchema": op.output_schema(),
        }
        for op in registry
    ]
    verbose_bytes = len(json.dumps(verbose))
    _, default_bytes = _list(client, owner_token)
    full, full_bytes = _list(client, owner_token, query="?toolsets=all")
    assert default_bytes * 3 <= verbose_bytes
    assert full_bytes < verbose_bytes
    by_name = {tool["name"]: tool for tool in full}
    for op in registry:
        tool = by_name[op.tool_name]
        assert tool["inputSchema"] == op.input_schema()  # argument docs and constraints intact
        assert not _titled(tool["outputSchema"])
        raw = op.output_schema()
        assert tool["outputSchema"].get("required") == raw.get("required")
        assert set(tool["outputSchema"].get("properties", {})) == set(raw.get("properties", {}))
