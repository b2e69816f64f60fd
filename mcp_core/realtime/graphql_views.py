"""The GraphQL front doors: `POST /graphql` (a Django view, so `make serve` answers it too) and
WebSocket `/graphql` (graphql-transport-ws, `make serve-realtime`). Both authenticate with the
Bearer API key; over WebSocket also as the `connection_init` payload `{"Authorization": …}`."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from strawberry.channels import GraphQLWSConsumer
from strawberry.django.views import AsyncGraphQLView
from strawberry.exceptions import ConnectionRejectionError

from common.errors import ApplicationError, AuthenticationFailed
from mcp_core.realtime.graphql_schema import schema
from tenants import policy
from tenants.authentication import authenticate_request


def _authenticated(header: str | None) -> dict[str, Any]:
    """The caller's principal, or why not: a bad key, or a plan without `graphql_api` (every
    field then answers PERMISSION_DENIED with {feature, required_plan}; a socket is refused)."""
    try:
        principal = authenticate_request(header)
    except ApplicationError as exc:
        return {"principal": None, "auth_error": exc}
    refusal = policy.feature_refusal(principal.tenant, "graphql_api")
    if refusal is not None:
        return {"principal": None, "auth_error": refusal}
    return {"principal": principal}


class GraphQLHTTPView(AsyncGraphQLView[dict[str, Any], None]):
    """`GET /graphql` from a browser is GraphiQL: strawberry renders our
    templates/graphql/graphiql.html, whose assets this server serves (no CDN)."""

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
        header = request.headers.get("Authorization")
        return {"request": request, **await sync_to_async(_authenticated)(header)}


class GraphQLSocket(GraphQLWSConsumer[dict[str, Any], None]):
    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        headers = dict(self.scope.get("headers") or [])
        header = headers.get(b"authorization")
        context = {"request": request, "ws": request}
        if header is not None:
            context.update(await sync_to_async(_authenticated)(header.decode("latin-1")))
        return context

    async def on_ws_connect(self, context: dict[str, Any]) -> None:
        params = context.get("connection_params") or {}
        header = params.get("Authorization") or params.get("authorization")
        if isinstance(header, str):
            context.update(await sync_to_async(_authenticated)(header))
        if context.get("principal") is None:
            refused = context.get("auth_error") or AuthenticationFailed()
            raise ConnectionRejectionError(refused.envelope()["error"])


graphql_http = GraphQLHTTPView.as_view(schema=schema, graphql_ide="graphiql")
graphql_socket = GraphQLSocket.as_asgi(schema=schema)
