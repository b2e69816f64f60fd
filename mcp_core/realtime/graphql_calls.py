"""How a GraphQL resolver runs an operation: through the orchestrator as the request's
principal, a failure raised as a GraphQL error with the envelope in `extensions`."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from graphql import GraphQLError
from strawberry.types import Info

from common.errors import ApplicationError, AuthenticationFailed
from mcp_core.auth import Principal
from mcp_core.orchestrator import execute_named


def graphql_error(exc: ApplicationError, correlation_id: str = "") -> GraphQLError:
    envelope = exc.envelope(correlation_id)["error"]
    return GraphQLError(
        exc.message,
        extensions={
            "code": envelope["code"],
            "type": envelope["type"],
            "details": envelope["details"],
            "correlation_id": correlation_id,
        },
    )


def principal_of(info: Info) -> Principal:
    principal = info.context.get("principal")
    if principal is None:
        raise graphql_error(info.context.get("auth_error") or AuthenticationFailed())
    return principal


def _run(principal: Principal, name: str, args: dict[str, Any]) -> Any:
    result = execute_named(principal, name, args, source="graphql")
    if result.error is not None:
        raise graphql_error(result.error, result.correlation_id)
    return result.data


async def run_operation(info: Info, name: str, args: dict[str, Any] | None = None) -> Any:
    """The operation's JSON result. Raises GraphQLError."""
    return await sync_to_async(_run)(principal_of(info), name, args or {})
