"""MCP over Streamable HTTP: `POST /mcp`, stateless, JSON responses (docs/contract.md).

Handshake revisions (2025-11-25, 2025-06-18, 2025-03-26) and the stateless 2026-07-28
(`server/discover`, the version in `MCP-Protocol-Version` and `params._meta`). Every
`tools/call` goes through the orchestrator; its failures are tool results with `isError`.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import validate_host
from django.views.decorators.csrf import csrf_exempt

from common.errors import ApplicationError, AuthenticationFailed
from common.jsonbody import JsonBodyError, parse_json
from mcp_core.auth import Principal, bearer_token
from mcp_core.federation.calls import federated_call, federated_tools
from mcp_core.mcp_calls import McpCallError
from mcp_core.mcp_context import CONTEXT_METHODS, context_result, paginate
from mcp_core.mcp_schemas import lean_schema
from mcp_core.mcp_toolsets import (
    TOOLSETS_HEADER,
    TOOLSETS_PARAMETER,
    UnknownToolsets,
    available_toolsets,
    selected_toolsets,
)
from mcp_core.oauth.scopes import authorization_server_issuer, service_scopes
from mcp_core.observability import new_correlation_id
from mcp_core.operations import ALL_TOOLSETS, Operation, registry
from mcp_core.orchestrator import execute
from mcp_core.permissions import role_allows
from tenants import policy
from tenants.authentication import authenticate_request

MODERN_VERSION = "2026-07-28"
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED_VERSIONS = (MODERN_VERSION, *HANDSHAKE_VERSIONS)
# Per the 2025-06-18 transport: a request without the header is taken to be 2025-03-26.
DEFAULT_HEADER_VERSION = "2025-03-26"
PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022

SIGN_IN_MESSAGE = (
    "Sign in with OAuth (the authorization server is named in the document at "
    "details.resource_metadata) or send an API key as 'Authorization: Bearer apk_…'."
)
SIGN_IN_MESSAGE_DE = (
    "Bitte mit OAuth anmelden (den Autorisierungsserver nennt das Dokument unter "
    "details.resource_metadata) oder einen API-Schlüssel als 'Authorization: Bearer apk_…' "
    "senden."
)

SERVER_INFO = {"name": "askproai", "title": "AskProAI", "version": "2.0.0"}
INSTRUCTIONS = (
    "AskProAI runs appointment booking for German service businesses (salons, practices, "
    "workshops). Tools are named service_operation. Times are ISO 8601 with the branch's "
    "UTC offset; a time without offset is read in the branch's time zone (Europe/Berlin "
    "by default). Failed calls return isError with an error envelope whose 'type' says why."
)


class JsonRpcError(Exception):
    def __init__(self, code: int, message: str, *, status: int = 200, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data


def _rpc_error(
    request_id: Any, code: int, message: str, status: int = 200, data: Any = None
) -> JsonResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JsonResponse({"jsonrpc": "2.0", "id": request_id, "error": error}, status=status)


def resource_metadata_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/.well-known/oauth-protected-resource/mcp")


def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 9728: what this resource is, who issues its tokens and how to present one (an
    OAuth access token or an API key, as Bearer)."""
    return JsonResponse(
        {
            "resource": request.build_absolute_uri("/mcp"),
            "authorization_servers": [authorization_server_issuer(request)],
            "scopes_supported": service_scopes(),
            "bearer_methods_supported": ["header"],
            "resource_name": "AskProAI MCP",
            "resource_documentation": request.build_absolute_uri("/api/docs/"),
        }
    )


def _origin_allowed(request: HttpRequest) -> bool:
    """Browsers send Origin; a page from a foreign site must not drive a user's MCP session
    (DNS rebinding). Clients that are not browsers send none and pass."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    if origin in settings.MCP_ALLOWED_ORIGINS:
        return True
    host = urlsplit(origin).hostname or ""
    return host in LOCAL_HOSTS or validate_host(host, settings.ALLOWED_HOSTS)


def _sign_in_required(
    request: HttpRequest, correlation_id: str, *, presented: bool
) -> JsonResponse:
    """401 that tells a person and a client what to do: an MCP client follows
    `resource_metadata` (RFC 9728) to our authorization server; a person reads the message."""
    metadata = resource_metadata_url(request)
    error = AuthenticationFailed(
        SIGN_IN_MESSAGE, details={"message_de": SIGN_IN_MESSAGE_DE, "resource_metadata": metadata}
    )
    response = JsonResponse(error.envelope(correlation_id), status=401)
    challenge = f'Bearer resource_metadata="{metadata}"'
    # RFC 6750 §3.1: a token was sent but is unknown, expired or revoked.
    response["WWW-Authenticate"] = f'{challenge}, error="invalid_token"' if presented else challenge
    return response


@csrf_exempt
def mcp_endpoint(request: HttpRequest) -> HttpResponse:
    correlation_id = new_correlation_id(request.headers.get("X-Correlation-ID"))
    response = _handle(request, correlation_id)
    response["X-Correlation-ID"] = correlation_id
    return response


def _handle(request: HttpRequest, correlation_id: str) -> HttpResponse:
    if not _origin_allowed(request):
        return _rpc_error(None, INVALID_REQUEST, "Origin not allowed.", status=403)
    if request.method != "POST":
        # Stateless server: no server-initiated stream (GET) and no session to end (DELETE).
        response = HttpResponse(status=405)
        response["Allow"] = "POST"
        return response
    authorization = request.headers.get("Authorization")
    try:
        principal = authenticate_request(authorization)
    except AuthenticationFailed:
        return _sign_in_required(
            request, correlation_id, presented=bool(bearer_token(authorization))
        )
    except ApplicationError as exc:
        return JsonResponse(exc.envelope(correlation_id), status=exc.http_status)
    try:
        message = parse_json(request.body)
    except JsonBodyError as exc:
        if exc.malformed:
            return _rpc_error(None, PARSE_ERROR, "Parse error: the body is not JSON.", status=400)
        return _rpc_error(None, INVALID_REQUEST, exc.message, status=400, data=exc.details)
    if isinstance(message, list):
        return _rpc_error(None, INVALID_REQUEST, "Batch requests are not supported.", status=400)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _rpc_error(None, INVALID_REQUEST, "Not a JSON-RPC 2.0 message.", status=400)
    if "method" not in message:
        # A response to a server request: we never send any, so just acknowledge it.
        return HttpResponse(status=202)
    if "id" not in message:
        return HttpResponse(status=202)  # notifications: initialized, cancelled, …
    request_id = message["id"]
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return _rpc_error(None, INVALID_REQUEST, "The id must be a string or number.", status=400)
    method, params = message.get("method"), message.get("params", {})
    if not isinstance(method, str) or not isinstance(params, dict):
        return _rpc_error(request_id, INVALID_REQUEST, "Invalid request.", status=400)
    try:
        version = _request_version(request, method, params)
        toolsets = _toolsets(request, principal)
        result, headers = _dispatch(version, method, params, principal, correlation_id, toolsets)
    except JsonRpcError as exc:
        return _rpc_error(request_id, exc.code, exc.message, exc.status, exc.data)
    response = JsonResponse(
        {"jsonrpc": "2.0", "id": request_id, "result": result},
        json_dumps_params={"separators": (",", ":")},  # a tool list is read by the byte
    )
    for key, value in headers.items():
        response[key] = value
    return response


def _request_version(request: HttpRequest, method: str, params: dict[str, Any]) -> str:
    """The revision this request speaks, checked as each revision's transport demands."""
    header = request.headers.get("MCP-Protocol-Version")
    if method == "initialize":
        return "initialize"
    if header is None:
        return DEFAULT_HEADER_VERSION
    if header not in SUPPORTED_VERSIONS:
        raise JsonRpcError(
            UNSUPPORTED_PROTOCOL_VERSION,
            f"Unsupported protocol version '{header}'.",
            status=400,
            data={"supported": list(SUPPORTED_VERSIONS), "requested": header},
        )
    if header == MODERN_VERSION:
        meta = params.get("_meta")
        if not isinstance(meta, dict) or meta.get(PROTOCOL_VERSION_META_KEY) != header:
            raise JsonRpcError(
                HEADER_MISMATCH, "MCP-Protocol-Version and params._meta disagree.", status=400
            )
        if request.headers.get("Mcp-Method") != method:
            raise JsonRpcError(HEADER_MISMATCH, "Mcp-Method does not match method.", status=400)
        if method == "tools/call" and request.headers.get("Mcp-Name") != params.get("name"):
            raise JsonRpcError(HEADER_MISMATCH, "Mcp-Name does not match the tool.", status=400)
    return header


def _toolsets(request: HttpRequest, principal: Principal) -> frozenset[str]:
    requested = request.GET.get(TOOLSETS_PARAMETER) or request.headers.get(TOOLSETS_HEADER)
    try:
        return selected_toolsets(requested, principal)
    except UnknownToolsets as exc:
        raise JsonRpcError(
            INVALID_PARAMS,
            f"Unknown toolsets: {exc}.",
            status=400,
            data={"unknown": exc.unknown, "available": [*available_toolsets(), ALL_TOOLSETS]},
        ) from exc


def _dispatch(
    version: str,
    method: str,
    params: dict[str, Any],
    principal: Principal,
    correlation_id: str,
    toolsets: frozenset[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    modern = version == MODERN_VERSION
    if method == "initialize" and not modern:
        return _initialize(params), {}
    if method == "server/discover" and modern:
        return _discover(), {}
    if method == "ping" and not modern:
        return {}, {}
    if method == "tools/list":
        return _tools_list(version, params, principal, toolsets), {}
    if method == "tools/call":
        return _tools_call(version, params, principal, correlation_id)
    if method in CONTEXT_METHODS:
        try:
            result = context_result(method, params, principal, correlation_id)
        except McpCallError as exc:
            raise JsonRpcError(exc.code, exc.message, data=exc.data) from exc
        if modern:
            result["resultType"] = "complete"
            if method.endswith("/list"):
                result.update({"cacheScope": "private", "ttlMs": 60_000})
        return result, {}
    raise JsonRpcError(
        METHOD_NOT_FOUND, f"Method not found: {method}", status=404 if modern else 200
    )


def _capabilities() -> dict[str, Any]:
    # Stateless: no stream to announce list changes on, so clients re-list (toolsets are
    # chosen per request instead).
    return {
        "tools": {"listChanged": False},
        "resources": {"listChanged": False, "subscribe": False},
        "prompts": {"listChanged": False},
        "completions": {},
    }


def _initialize(params: dict[str, Any]) -> dict[str, Any]:
    requested = params.get("protocolVersion")
    negotiated = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0]
    return {
        "protocolVersion": negotiated,
        "capabilities": _capabilities(),
        "serverInfo": SERVER_INFO,
        "instructions": INSTRUCTIONS,
    }


def _discover() -> dict[str, Any]:
    return {
        "resultType": "complete",
        "supportedVersions": list(SUPPORTED_VERSIONS),
        "capabilities": _capabilities(),
        "instructions": INSTRUCTIONS,
        "cacheScope": "public",
        "ttlMs": 300_000,
        "_meta": {SERVER_INFO_META_KEY: SERVER_INFO},
    }


def tool_definition(op: Operation, version: str) -> dict[str, Any]:
    """One tool as `tools/list` shows it, built once per process (callers must not change it):
    the lean schemas cost milliseconds to derive, and every list would pay them again."""
    return _tool_definition(op.name, legacy=version == "2025-03-26")


@functools.cache
def _tool_definition(name: str, *, legacy: bool) -> dict[str, Any]:
    op = registry.get(name)
    assert op is not None, name  # noqa: S101 - called with registered operations only
    title = op.title or op.name
    annotations: dict[str, Any] = {
        "readOnlyHint": op.read_only,
        "destructiveHint": op.destructive,
        "idempotentHint": op.idempotent,
        "openWorldHint": op.open_world,
    }
    tool: dict[str, Any] = {
        "name": op.tool_name,
        "description": op.description,
        "inputSchema": lean_schema(op.input_schema(), descriptions=True),
        "annotations": annotations,
    }
    if legacy:
        # The tool's own title and outputSchema arrived with 2025-06-18; before, the title
        # travels in the annotations (and only there from then on: one title per tool).
        annotations["title"] = title
    else:
        tool["title"] = title
        tool["outputSchema"] = lean_schema(op.output_schema(), descriptions=False)
    return tool


def _tools_list(
    version: str, params: dict[str, Any], principal: Principal, toolsets: frozenset[str]
) -> dict[str, Any]:
    # A key sees the tools its role may call: an assistant should not plan with the others.
    tools = [
        tool_definition(op, version)
        for op in registry
        if op.service in toolsets
        and role_allows(principal.role, op.permission)
        and principal.may_use(op.service)
    ]
    # Upstream servers a tenant registered are offered in every selection of toolsets: the
    # registration is the choice (docs/architecture.md, "The tool list is a context budget").
    # A plan without `federation` sees none of them (tenants.policy).
    if policy.feature_allowed(principal.tenant, "federation"):
        tools += federated_tools(principal, version)
    try:
        page, result = paginate(tools, params)
    except McpCallError as exc:
        raise JsonRpcError(exc.code, exc.message) from exc
    result["tools"] = page
    if version == MODERN_VERSION:
        result.update({"resultType": "complete", "cacheScope": "private", "ttlMs": 60_000})
    return result


def _tools_call(
    version: str, params: dict[str, Any], principal: Principal, correlation_id: str
) -> tuple[dict[str, Any], dict[str, str]]:
    name = params.get("name")
    op = registry.by_tool_name(name) if isinstance(name, str) else None
    arguments = params.get("arguments", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise JsonRpcError(INVALID_PARAMS, "Tool arguments must be an object.")
    if op is None:
        federated = (
            federated_call(
                principal,
                name,
                arguments,
                correlation_id=correlation_id,
                refusal=policy.feature_refusal(principal.tenant, "federation"),
            )
            if isinstance(name, str)
            else None
        )
        if federated is None:
            raise JsonRpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        result, headers = federated
        if version == MODERN_VERSION:
            result["resultType"] = "complete"
        return result, headers
    call = execute(
        principal,
        op.service,
        op.operation,
        arguments,
        correlation_id=correlation_id,
        source="mcp",
    )
    if call.error is None:
        payload = call.data or {}
        result = {
            "content": [{"type": "text", "text": json.dumps(payload, ensure_ascii=False)}],
            "structuredContent": payload,
            "isError": False,
        }
    else:
        envelope = call.error.envelope(call.correlation_id)
        # The envelope travels as text only: structuredContent must match the tool's
        # outputSchema, and some clients (MCP Inspector) check that even on isError results.
        result = {
            "content": [{"type": "text", "text": json.dumps(envelope, ensure_ascii=False)}],
            "isError": True,
        }
    if version == MODERN_VERSION:
        result["resultType"] = "complete"
    return result, call.headers()
