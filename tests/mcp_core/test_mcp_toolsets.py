"""Toolsets and the lean tool list: what `tools/list` puts into an assistant's context."""

import json
import re

import pytest

from mcp_core.mcp_schemas import MIN_SHARED_BYTES
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


def _described(schema):
    """Whether any description survives in a schema (pydantic's titles go at the source)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str) or "description" in schema:
            return True
        # Under properties and $defs the keys are names (a field may be called "description").
        nested = [
            *(v for key in ("properties", "$defs") for v in schema.get(key, {}).values()),
            *(v for key, v in schema.items() if key not in ("properties", "$defs")),
        ]
        return any(_described(v) for v in nested)
    if isinstance(schema, list):
        return any(_described(v) for v in schema)
    return False


def _resolved(schema, defs):
    """`schema` with every `$ref` into `defs` written out, and no `$defs` left."""
    if isinstance(schema, list):
        return [_resolved(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _resolved(defs[schema["$ref"].removeprefix("#/$defs/")], defs)
    return {k: _resolved(v, defs) for k, v in schema.items() if k != "$defs"}


def _subschemas(schema):
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from _subschemas(sub)
            elif key not in ("default", "examples", "enum", "const"):
                yield from _subschemas(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _subschemas(item)


def _sentences(text):
    return len(re.findall(r"[.!?](?=\s|$)", text.strip()))


def test_lean_list_keeps_every_constraint_and_says_nothing_twice(client, owner_token):
    verbose = [
        {
            "name": op.tool_name,
            "title": op.title or op.name,
            "description": op.description,
            "inputSchema": op.input.model_json_schema(mode="validation"),
            "outputSchema": op.output.model_json_schema(mode="serialization"),
        }
        for op in registry
    ]
    verbose_bytes = len(json.dumps(verbose))
    _, default_bytes = _list(client, owner_token)
    full, full_bytes = _list(client, owner_token, query="?toolsets=all")
    assert default_bytes * 3 <= verbose_bytes
    assert full_bytes * 3 <= verbose_bytes
    by_name = {tool["name"]: tool for tool in full}
    for op in registry:
        tool = by_name[op.tool_name]
        # The same schema as validation's and OpenAPI's once its shared parts are written out.
        given = tool["inputSchema"]
        assert _resolved(given, given.get("$defs", {})) == _resolved(
            op.input_schema(), op.input_schema().get("$defs", {})
        ), op.name
        output = tool["outputSchema"]
        assert not _described(output), op.name
        raw = op.output_schema()
        assert output.get("required") == raw.get("required")
        assert set(output.get("properties", {})) == set(raw.get("properties", {}))
        assert "title" not in tool["annotations"]  # the tool's own title says it
        for schema in (given, output):
            written = [json.dumps(sub, sort_keys=True) for sub in _subschemas(schema)]
            repeated = {s for s in written if written.count(s) > 1 and len(s) >= MIN_SHARED_BYTES}
            assert not repeated, op.name


def test_every_description_is_at_most_two_sentences():
    for op in registry:
        assert 1 <= _sentences(op.description) <= 2, (op.name, op.description)
        assert len(op.description) <= 300, op.name
