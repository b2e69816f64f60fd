"""/mcp on the wire: JSON-RPC framing, versions, headers, auth, Origin — as raw HTTP."""

import json

import pytest

from mcp_core.operations import registry
from tests.factories import ApiKeyFactory, BranchFactory

pytestmark = pytest.mark.django_db

MODERN = "2026-07-28"


@pytest.fixture
def key():
    api_key, plaintext = ApiKeyFactory.create_with_plaintext(role="owner")
    return api_key, plaintext


CAPABILITIES = {
    "tools": {"listChanged": False},
    "resources": {"listChanged": False, "subscribe": False},
    "prompts": {"listChanged": False},
    "completions": {},
}


def rpc(client, token, method, params=None, *, id=1, headers=None, raw=None):
    body = (
        raw
        if raw is not None
        else json.dumps(
            {"jsonrpc": "2.0", "id": id, "method": method, **({"params": params} if params else {})}
        )
    )
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post("/mcp", body, content_type="application/json", **extra)


def modern(method, params=None, name=None):
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name:
        headers["Mcp-Name"] = name
    return params, headers


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26"])
def test_initialize_echoes_each_handshake_revision(client, key, version):
    response = rpc(
        client,
        key[1],
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    )
    result = response.json()["result"]
    assert response.status_code == 200
    assert result["protocolVersion"] == version
    assert result["capabilities"] == CAPABILITIES
    assert result["serverInfo"]["name"] == "askproai"
    assert "Mcp-Session-Id" not in response.headers


def test_initialize_with_unknown_version_answers_the_latest_handshake(client, key):
    result = rpc(client, key[1], "initialize", {"protocolVersion": "1999-01-01"}).json()["result"]
    assert result["protocolVersion"] == "2025-11-25"


def test_notifications_get_202_without_body(client, key):
    response = rpc(
        client,
        key[1],
        None,
        raw=json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    assert (response.status_code, response.content) == (202, b"")


def test_ping_and_unknown_method(client, key):
    assert rpc(client, key[1], "ping").json() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    error = rpc(client, key[1], "sampling/createMessage").json()["error"]
    assert error["code"] == -32601


def test_malformed_json_rpc(client, key):
    parse = rpc(client, key[1], None, raw="{not json")
    assert parse.status_code == 400
    assert parse.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: the body is not JSON."},
    }
    batch = rpc(client, key[1], None, raw="[]")
    assert (batch.status_code, batch.json()["error"]["code"]) == (400, -32600)
    wrong = rpc(client, key[1], None, raw=json.dumps({"jsonrpc": "1.0", "id": 1, "method": "x"}))
    assert wrong.json()["error"]["code"] == -32600
    bad_params = rpc(
        client,
        key[1],
        None,
        raw=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}),
    )
    assert bad_params.json()["error"]["code"] == -32600


def test_get_and_delete_are_405(client, key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key[1]}"}
    assert client.get("/mcp", **auth).status_code == 405
    assert client.delete("/mcp", **auth).status_code == 405


def test_missing_or_bad_credentials_get_a_401_that_names_oauth_and_api_keys(client):
    metadata_url = "http://testserver/.well-known/oauth-protected-resource/mcp"
    for token, challenge in (
        (None, f'Bearer resource_metadata="{metadata_url}"'),
        # RFC 6750: a token was sent, and it is not (or no longer) valid.
        ("apk_00000000_nope", f'Bearer resource_metadata="{metadata_url}", error="invalid_token"'),
        (
            "an-oauth-token-we-never-issued",
            f'Bearer resource_metadata="{metadata_url}", error="invalid_token"',
        ),
    ):
        response = rpc(client, token, "tools/list")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == challenge
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("AUTHENTICATION_FAILED", 1009)
        assert error["message"] == (
            "Sign in with OAuth (the authorization server is named in the document at "
            "details.resource_metadata) or send an API key as 'Authorization: Bearer apk_…'."
        )
        assert error["details"]["message_de"].startswith("Bitte mit OAuth anmelden")
        assert "API-Schlüssel" in error["details"]["message_de"]
        assert error["details"]["resource_metadata"] == metadata_url
    # What the message points at leads to the sign-in.
    metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == "http://testserver/mcp"
    assert metadata["bearer_methods_supported"] == ["header"]
    issuer = metadata["authorization_servers"][0]
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == issuer
    assert server["authorization_endpoint"] == f"{issuer}/oauth/authorize/"


def test_foreign_origin_is_403_and_local_origin_passes(client, key):
    evil = rpc(client, key[1], "ping", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    local = rpc(client, key[1], "ping", headers={"Origin": "http://localhost:6274"})
    assert local.status_code == 200


def test_unsupported_protocol_version_header_is_400(client, key):
    response = rpc(client, key[1], "tools/list", headers={"MCP-Protocol-Version": "2030-01-01"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["requested"] == "2030-01-01"
    assert "2025-06-18" in error["data"]["supported"]


def test_server_discover_in_the_stateless_revision(client, key):
    params, headers = modern("server/discover")
    result = rpc(client, key[1], "server/discover", params, headers=headers).json()["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"]
    assert result["capabilities"] == CAPABILITIES
    # Without the modern header it is an unknown method, so handshake clients fall back.
    assert rpc(client, key[1], "server/discover").json()["error"]["code"] == -32601


def test_modern_requests_must_agree_with_their_headers(client, key):
    params, headers = modern("tools/list")
    headers["Mcp-Method"] = "tools/call"
    response = rpc(client, key[1], "tools/list", params, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32020)
    params, headers = modern("tools/call", {"name": "tenant_getTenant"}, name="tenant_getBranch")
    response = rpc(client, key[1], "tools/call", params, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, -32020)
    params, headers = modern("ping")
    assert rpc(client, key[1], "ping", params, headers=headers).status_code == 404


def test_tools_list_paginates_with_opaque_cursors(client, key):
    seen, cursor, pages = [], None, 0
    while True:
        result = rpc(
            client,
            key[1],
            "tools/list",
            {"cursor": cursor} if cursor else None,
            headers={"MCP-Protocol-Version": "2025-11-25", "MCP-Toolsets": "all"},
        ).json()["result"]
        seen += [tool["name"] for tool in result["tools"]]
        pages += 1
        cursor = result.get("nextCursor")
        if cursor is None:
            break
    assert seen == [op.tool_name for op in registry]
    assert pages == -(-len(seen) // 25)
    bad = rpc(client, key[1], "tools/list", {"cursor": "forged"}).json()["error"]
    assert bad["code"] == -32602


def all_tools(client, token, version):
    tools, cursor = [], None
    while True:
        params = {"cursor": cursor} if cursor else None
        result = rpc(
            client,
            token,
            "tools/list",
            params,
            headers={"MCP-Protocol-Version": version, "MCP-Toolsets": "all"},
        ).json()["result"]
        tools += result["tools"]
        cursor = result.get("nextCursor")
        if cursor is None:
            return tools


def test_tool_definitions_carry_schemas_and_annotations(client, key):
    tools = all_tools(client, key[1], "2025-06-18")
    get_tenant = next(tool for tool in tools if tool["name"] == "tenant_getTenant")
    assert get_tenant["inputSchema"]["type"] == "object"
    assert get_tenant["outputSchema"]["type"] == "object"
    assert get_tenant["annotations"]["readOnlyHint"] is True
    assert get_tenant["annotations"]["destructiveHint"] is False
    old = rpc(client, key[1], "tools/list", headers={"MCP-Protocol-Version": "2025-03-26"}).json()[
        "result"
    ]["tools"]
    assert "outputSchema" not in old[0]


def test_readonly_key_sees_only_tools_it_may_call(client):
    _, token = ApiKeyFactory.create_with_plaintext(role="readonly")
    names = {tool["name"] for tool in all_tools(client, token, "2025-11-25")}
    assert "tenant_getTenant" in names
    assert "tenant_updateTenant" not in names


def test_tools_call_success_and_failure_shapes(client, key):
    api_key, token = key
    ok = rpc(client, token, "tools/call", {"name": "tenant_validateTenantAccess", "arguments": {}})
    result = ok.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["tenant_id"] == api_key.tenant_id
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert ok.headers["X-RateLimit-Limit"] == "1000"
    assert ok.headers["X-Correlation-ID"]

    denied = rpc(
        client,
        token,
        "tools/call",
        {"name": "tenant_getBranch", "arguments": {"branch_id": 0, "extra": 1}},
    )
    result = denied.json()["result"]
    assert result["isError"] is True
    assert json.loads(result["content"][0]["text"])["error"]["type"] == "VALIDATION_FAILED"
    assert json.loads(result["content"][0]["text"])["error"]["details"]["extra"] == [
        "Unknown field."
    ]

    unknown = rpc(client, token, "tools/call", {"name": "nope", "arguments": {}}).json()
    assert unknown["error"]["code"] == -32602
    not_object = rpc(client, token, "tools/call", {"name": "tenant_getTenant", "arguments": [1]})
    assert not_object.json()["error"]["code"] == -32602


def test_modern_tools_call_has_result_type(client, key):
    params, headers = modern(
        "tools/call", {"name": "tenant_getTenant", "arguments": {}}, name="tenant_getTenant"
    )
    result = rpc(client, key[1], "tools/call", params, headers=headers).json()["result"]
    assert result["resultType"] == "complete"
    assert result["isError"] is False


def test_correlation_id_is_taken_from_the_request(client, key):
    response = rpc(client, key[1], "ping", headers={"X-Correlation-ID": "call-abc-123"})
    assert response.headers["X-Correlation-ID"] == "call-abc-123"


def test_tenant_a_cannot_read_tenant_b_over_mcp(client, key):
    _, token = key
    foreign = BranchFactory()
    result = rpc(
        client,
        token,
        "tools/call",
        {"name": "tenant_getBranch", "arguments": {"branch_id": foreign.pk}},
    ).json()
    assert result["result"]["isError"] is True
    assert (
        json.loads(result["result"]["content"][0]["text"])["error"]["type"] == "RESOURCE_NOT_FOUND"
    )


def test_failed_tool_result_has_no_structured_content(client, key):
    # structuredContent must match outputSchema; the envelope travels as text only.
    result = rpc(
        client,
        key[1],
        "tools/call",
        {"name": "tenant_getBranch", "arguments": {"branch_id": 999999}},
    ).json()
    assert result["result"]["isError"] is True
    assert "structuredContent" not in result["result"]
    envelope = json.loads(result["result"]["content"][0]["text"])
    assert (envelope["error"]["code"], envelope["error"]["type"]) == (1002, "RESOURCE_NOT_FOUND")


def test_list_changes_are_not_pushed_and_the_list_says_how_long_it_holds(client, key):
    """Stateless: no stream to push notifications/tools/list_changed on (the capabilities say
    listChanged false); a 2026-07-28 client re-lists when the list's ttlMs has passed."""
    params, headers = modern("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    refused = rpc(client, key[1], "subscriptions/listen", params, headers=headers)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == -32601
    params, headers = modern("tools/list")
    listed = rpc(client, key[1], "tools/list", params, headers=headers).json()["result"]
    assert (listed["cacheScope"], listed["ttlMs"]) == ("private", 60_000)
    params, headers = modern("server/discover")
    discovered = rpc(client, key[1], "server/discover", params, headers=headers).json()["result"]
    assert discovered["capabilities"]["tools"] == {"listChanged": False}
