"""The REST front door (DRF): `/api/v2/mcp/…` → the orchestrator → the contract's envelope.

Views only authenticate, collect arguments (query, body, path) and call one operation; the
contract's resource routes and a generic route per operation are generated from one table and
the operation registry, so their OpenAPI schemas come from the operations' own models.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from pydantic import BaseModel, ConfigDict, Field
from rest_framework import exceptions as drf_exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import ApplicationError, ErrorType, ValidationFailed
from mcp_core.auth import Principal
from mcp_core.health import check_integrations, health_report
from mcp_core.middleware import correlation_id_of
from mcp_core.operations import Operation, registry
from mcp_core.orchestrator import CallResult, execute_named
from tenants.authentication import authenticate_request


class ErrorBody(BaseModel):
    code: int
    type: str
    message: str
    details: dict[str, Any]
    timestamp: str
    correlation_id: str


class ErrorEnvelope(BaseModel):
    """Every failure on every front door (docs/contract.md)."""

    error: ErrorBody


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, description="e.g. 'booking'")
    operation: str = Field(min_length=1, description="e.g. 'createBooking'")
    params: dict[str, Any] = Field(default_factory=dict, description="the operation's arguments")


EXECUTE_FIELDS = frozenset({"service", "operation", "params"})

ERROR_RESPONSES = {
    status: OpenApiResponse(ErrorEnvelope, description=error_type.name)
    for error_type in ErrorType
    for status in [error_type.http_status]
}


def envelope_response(exc: ApplicationError, correlation_id: str, **headers: str) -> Response:
    response = Response(exc.envelope(correlation_id), status=exc.http_status)
    response["X-Correlation-ID"] = correlation_id
    if exc.http_status == 401:
        response["WWW-Authenticate"] = "Bearer"
    decision = getattr(exc, "decision", None)
    if decision is not None:
        headers = {**decision.headers(), **headers}
    for key, value in headers.items():
        response[key] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's own failures (bad JSON, wrong method, media type) in the contract's envelope."""
    request = context.get("request")
    correlation_id = correlation_id_of(request) if request is not None else ""
    if isinstance(exc, ApplicationError):
        return envelope_response(exc, correlation_id)
    if isinstance(exc, drf_exceptions.APIException):
        error = ValidationFailed(str(exc.detail), details={})
        response = envelope_response(error, correlation_id)
        response.status_code = exc.status_code
        return response
    return None


def _fields_of_type(op: Operation, kind: type) -> set[str]:
    """Input fields typed `kind` or `kind | None` (lists: `list[...]` or `list[...] | None`)."""
    names = set()
    for name, info in op.input.model_fields.items():
        annotation = info.annotation
        types = {annotation, *typing.get_args(annotation)}
        if kind in types or any(typing.get_origin(arg) is kind for arg in types):
            names.add(name)
    return names


# A query string carries text; these are the spellings read as a boolean (anything else is
# passed on as text, which the operation refuses with "Expected true or false.").
QUERY_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _query_args(request: Request, op: Operation) -> dict[str, Any]:
    lists, booleans = _fields_of_type(op, list), _fields_of_type(op, bool)
    args: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if key in lists:
            args[key] = [v for value in values for v in value.split(",") if v]
        elif key in booleans:
            args[key] = QUERY_BOOLEANS.get(values[-1].lower(), values[-1])
        else:
            args[key] = values[-1]
    return args


class KeyAuthAPIView(APIView):
    """The one base of our API views: the Bearer API key fixes tenant and role (DRF's own
    authentication and permission classes are off; the orchestrator authorises)."""

    authentication_classes = []
    permission_classes = []

    def principal(self, request: Request) -> Principal:
        """Raises AuthenticationFailed / ServiceUnavailable, rendered by exception_handler."""
        return authenticate_request(request.headers.get("Authorization"))


def result_response(result: CallResult, success_status: int = 200) -> Response:
    if result.error is not None:
        return envelope_response(result.error, result.correlation_id, **result.headers())
    response = Response(result.data, status=success_status)
    for key, value in result.headers().items():
        response[key] = value
    return response


class OperationAPIView(KeyAuthAPIView):
    """One route: HTTP method → operation name and success status."""

    operations: typing.ClassVar[dict[str, tuple[str, int]]] = {}

    def _call(self, request: Request, method: str, path_args: dict[str, Any]) -> Response:
        name, success_status = self.operations[method]
        principal = self.principal(request)
        op = registry.get(name)
        if method == "GET":
            args: Any = _query_args(request, op) if op else {}
        else:
            args = request.data
            # An empty body is no arguments; a body of JSON other than an object is refused.
            if not isinstance(args, dict):
                return envelope_response(
                    ValidationFailed(
                        "The body must be a JSON object.", details={"body": ["Must be an object."]}
                    ),
                    correlation_id_of(request),
                )
        if isinstance(args, dict):
            args = {**args, **path_args}
        result = execute_named(
            principal, name, args, correlation_id=correlation_id_of(request), source="api"
        )
        return result_response(result, success_status)

    def get(self, request: Request, **kwargs: Any) -> Response:
        return self._call(request, "GET", kwargs)

    def post(self, request: Request, **kwargs: Any) -> Response:
        return self._call(request, "POST", kwargs)

    def put(self, request: Request, **kwargs: Any) -> Response:
        return self._call(request, "PUT", kwargs)


@dataclass(frozen=True)
class RestRoute:
    path: str
    operations: dict[str, str | tuple[str, int]]


# The contract's resource routes (docs/contract.md). Paths are relative to /api/v2/mcp/.
ROUTES: tuple[RestRoute, ...] = (
    RestRoute("tenant", {"GET": "tenant.getTenant", "PUT": "tenant.updateTenant"}),
    RestRoute(
        "tenant/branches",
        {"GET": "tenant.listBranches", "POST": ("tenant.createBranch", 201)},
    ),
    RestRoute(
        "tenant/branches/<int:branch_id>",
        {"GET": "tenant.getBranch", "PUT": "tenant.updateBranch"},
    ),
    RestRoute("bookings", {"GET": "booking.listBookings", "POST": ("booking.createBooking", 201)}),
    RestRoute("bookings/check-availability", {"POST": "booking.checkAvailability"}),
    RestRoute(
        "bookings/<int:appointment_id>",
        {"GET": "booking.getBookingDetails", "PUT": "booking.updateBooking"},
    ),
    RestRoute("bookings/<int:appointment_id>/cancel", {"POST": "booking.cancelBooking"}),
    RestRoute("bookings/<int:appointment_id>/reschedule", {"POST": "booking.rescheduleBooking"}),
    RestRoute("bookings/<int:appointment_id>/confirm", {"POST": "booking.confirmBooking"}),
    RestRoute("staff", {"GET": "staff.listStaff"}),
    RestRoute("staff/<int:staff_id>/availability", {"GET": "staff.getStaffAvailability"}),
    RestRoute("staff/<int:staff_id>/schedule", {"PUT": "staff.updateStaffSchedule"}),
    RestRoute("staff/<int:staff_id>/performance", {"GET": "staff.getStaffPerformance"}),
)


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The operation's JSON Schema with its `$defs` references written out: the OpenAPI
    document then states exactly what validation enforces, without component names that two
    apps' models could share."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **_inline(rest, defs)}
    return {key: _inline(value, defs) for key, value in schema.items() if key != "$defs"}


def _openapi_schema(schema: dict[str, Any], drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Inlined, without the fields the path supplies (the path's value wins)."""
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    if drop and "properties" in inlined:
        inlined["properties"] = {
            name: prop for name, prop in inlined["properties"].items() if name not in drop
        }
        required = [name for name in inlined.get("required", []) if name not in drop]
        inlined.pop("required", None)
        if required:
            inlined["required"] = required
    return inlined


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter cannot be null: leaving it out is its null."""
    variants = prop.get("anyOf")
    if isinstance(variants, list):
        kept = [variant for variant in variants if variant.get("type") != "null"]
        rest = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
        if len(kept) == 1:
            return {**rest, **kept[0]}
        return {**rest, "anyOf": kept}
    return {key: value for key, value in prop.items() if not (key == "default" and value is None)}


def _schema_for(
    method: str,
    op: Operation | None,
    status: int,
    tag: str,
    path_args: frozenset[str],
    suffix: str = "",
) -> Any:
    if op is None:
        return extend_schema(exclude=True)
    request = None
    full_schema = _openapi_schema(op.input_schema())
    input_schema = _openapi_schema(op.input_schema(), drop=path_args)
    # A path argument states the operation's own bounds (ids from 1), not just "integer".
    parameters = [
        OpenApiParameter(
            name,
            type=_query_schema(full_schema["properties"][name]),
            location=OpenApiParameter.PATH,
            description=full_schema["properties"][name].get("description", ""),
        )
        for name in sorted(path_args)
    ]
    if method == "GET":
        required = set(input_schema.get("required", []))
        parameters += [
            OpenApiParameter(
                name,
                type=_query_schema(prop),
                required=name in required,
                description=prop.get("description", ""),
            )
            for name, prop in input_schema.get("properties", {}).items()
        ]
    else:
        request = {"application/json": input_schema}
    return extend_schema(
        # The generic /operations/<name> route carries a suffix: a resource route may serve the
        # same operation with the same method, and operationIds are unique in the schema.
        operation_id=f"{op.tool_name}_{method.lower()}{suffix}",
        summary=op.title or op.name,
        description=op.description,
        tags=[tag],
        request=request,
        parameters=parameters,
        responses={
            status: OpenApiResponse(_openapi_schema(op.output_schema())),
            **ERROR_RESPONSES,
        },
    )


def require_bodies_with_required_fields(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: a raw request schema is taken as optional, but a
    body whose schema has required fields must be sent."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            body = operation.get("requestBody")
            if not isinstance(body, dict):
                continue
            schemas = [media.get("schema", {}) for media in body.get("content", {}).values()]
            # Required fields, or a rule naming fields one of which must be sent.
            if any(
                schema.get("required") or "anyOf" in schema or "oneOf" in schema
                for schema in schemas
            ):
                body["required"] = True
    return result


def _route_view(route: RestRoute) -> type[OperationAPIView]:
    operations = {
        method: (spec, 200) if isinstance(spec, str) else spec
        for method, spec in route.operations.items()
    }
    attrs: dict[str, Any] = {"operations": operations}
    for method, (name, status) in operations.items():
        handler = getattr(OperationAPIView, method.lower())
        path_args = frozenset(re.findall(r"<\w+:(\w+)>", route.path))
        decorated = _schema_for(method, registry.get(name), status, name.split(".")[0], path_args)(
            _clone(handler)
        )
        attrs[method.lower()] = decorated
    view_name = "".join(part.title() for part in route.path.replace("<", "").split("/"))
    attrs["http_method_names"] = [m.lower() for m in operations] + ["options"]
    return type(f"{view_name}View", (OperationAPIView,), attrs)


def _clone(fn: Any) -> Any:
    """A fresh function per route: extend_schema annotates the function it decorates, so the
    shared OperationAPIView methods must not be decorated themselves."""

    def method(self: OperationAPIView, request: Request, **kwargs: Any) -> Response:
        return typing.cast(Response, fn(self, request, **kwargs))

    return method


def _operation_view(op: Operation) -> type[OperationAPIView]:
    attrs: dict[str, Any] = {
        "operations": {"POST": (op.name, 200)},
        "post": _schema_for("POST", op, 200, "operations", frozenset(), "_operation")(
            _clone(OperationAPIView.post)
        ),
        "http_method_names": ["post", "options"],
    }
    return type(f"{op.tool_name}View", (OperationAPIView,), attrs)


class ExecuteView(KeyAuthAPIView):
    """`POST /api/v2/mcp/execute {service, operation, params}`: any operation."""

    @extend_schema(
        operation_id="execute",
        summary="Execute any operation",
        request=ExecuteRequest,
        responses={200: dict[str, Any], **ERROR_RESPONSES},
        tags=["operations"],
    )
    def post(self, request: Request) -> Response:
        correlation_id = correlation_id_of(request)
        principal = self.principal(request)
        body = request.data
        errors: dict[str, list[str]] = {}
        if not isinstance(body, dict):
            errors["body"] = ["Must be an object {service, operation, params}."]
        else:
            for key in ("service", "operation"):
                if not isinstance(body.get(key), str) or not body.get(key):
                    errors[key] = ["Required, a string."]
            if not isinstance(body.get("params", {}), dict):
                errors["params"] = ["Must be an object."]
            for key in body.keys() - EXECUTE_FIELDS:
                errors[key] = [
                    "Unknown field; the operation's arguments go in 'params'."
                    if key in ("arguments", "args", "input")
                    else "Unknown field; the body is {service, operation, params}."
                ]
        if errors:
            return envelope_response(
                ValidationFailed("Invalid execute request.", details=errors), correlation_id
            )
        result = execute_named(
            principal,
            f"{body['service']}.{body['operation']}",
            body.get("params") or {},
            correlation_id=correlation_id,
            source="api",
        )
        return result_response(result)


class HealthView(KeyAuthAPIView):
    """Authenticated health: the same report as /mcp/health."""

    @extend_schema(
        operation_id="health",
        responses={200: dict[str, Any], 503: dict[str, Any], 401: ERROR_RESPONSES[401]},
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        self.principal(request)
        report = health_report()
        return Response(report, status=503 if report["status"] == "down" else 200)


class IntegrationsHealthView(KeyAuthAPIView):
    """Authenticated: which integrations are configured."""

    @extend_schema(
        operation_id="integrations_health",
        responses={200: dict[str, Any], **ERROR_RESPONSES},
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        self.principal(request)
        return Response({"integrations": check_integrations()})


def urlpatterns() -> list[URLPattern]:
    patterns = [
        path("execute", ExecuteView.as_view(), name="rest-execute"),
        path("health", HealthView.as_view(), name="rest-health"),
        path(
            "integrations/health", IntegrationsHealthView.as_view(), name="rest-integrations-health"
        ),
    ]
    patterns += [path(route.path, _route_view(route).as_view()) for route in ROUTES]
    patterns += [
        path(f"operations/{op.name}", _operation_view(op).as_view(), name=f"rest-op-{op.tool_name}")
        for op in registry
    ]
    return patterns
