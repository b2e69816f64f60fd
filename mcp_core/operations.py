"""Operation definitions and their registry.

An operation is declared once, in its app's `tools.py`, with the `operation` decorator:

    @operation(
        "tenant.getBranch",
        input=GetBranchInput, output=BranchOutput,
        permission=Permission.ACCESS_MCP, read_only=True,
        description="One branch of the tenant with its opening hours.",
    )
    def get_branch(ctx: CallContext, args: GetBranchInput) -> BranchOutput: ...

From that one declaration come validation, the MCP tool list, the OpenAPI schema and
`manage.py mcp docs`; nothing else needs an edit when an operation is added.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from mcp_core.permissions import Permission

if TYPE_CHECKING:
    from tenants.models import Company

NAME_PATTERN = re.compile(r"^[a-z][a-zA-Z]*\.[a-z][a-zA-Z0-9]*$")


class OperationInput(BaseModel):
    """Base of every input model: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OperationOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmptyInput(OperationInput):
    pass


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def page_field() -> Any:
    """The `page` argument of every list operation."""
    return Field(default=1, ge=1, description="Page number, starting at 1.")


def page_size_field(items: str) -> Any:
    """The `page_size` argument of every list operation, e.g. page_size_field("Branches")."""
    return Field(
        default=DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"{items} per page, at most {MAX_PAGE_SIZE}.",
    )


# Partial updates: a field left out keeps its value, so None means "not given" and an explicit
# null is refused. Use as `Annotated[T | None, NOT_NULL, Field(..., json_schema_extra=when_given)]`.
def _reject_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(
            "not_null", "May not be null; leave the field out to keep its value."
        )
    return value


def when_given(schema: dict[str, Any]) -> None:
    # A partial-update field: None only marks "not given", so the schema shows the type a
    # client may send, without a null default (omitting the field is how to keep a value).
    schema.pop("default", None)
    variants = schema.pop("anyOf", None)
    if variants is not None:
        given = [variant for variant in variants if variant != {"type": "null"}]
        if len(given) == 1:
            schema.update(given[0])
        else:
            schema["anyOf"] = given


NOT_NULL = BeforeValidator(_reject_null)


# Strict time inputs shared by every contract: pydantic alone would also read numbers as Unix
# timestamps and "2027-03-29" as midnight, neither of which a caller means.
_DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _datetime_text(value: Any) -> Any:
    if isinstance(value, dt.datetime) or (isinstance(value, str) and _DATETIME_TEXT.match(value)):
        return value
    raise PydanticCustomError(
        "datetime_type",
        "Expected a date and time in ISO 8601, e.g. '2027-03-29T09:00:00' (branch time) "
        "or '2027-03-29T09:00:00+02:00'.",
    )


def _date_text(value: Any) -> Any:
    if isinstance(value, dt.date | str):
        return value
    raise PydanticCustomError("date_type", "Expected a date as YYYY-MM-DD.")


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_datetime_text)]
IsoDate = Annotated[dt.date, BeforeValidator(_date_text)]


@dataclass(frozen=True)
class CallContext:
    """What a handler knows about the call: who, for which tenant, from where, until when."""

    tenant: Company
    role: str
    actor: str
    correlation_id: str
    source: str  # "mcp" | "api" | "phone" | "cli" | "admin"
    deadline: float  # time.monotonic() by which the call must be done
    api_key_id: int | None = None

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


Handler = Callable[[CallContext, Any], Any]


@dataclass(frozen=True)
class Operation:
    name: str  # "service.operation"
    input: type[OperationInput]
    output: type[BaseModel]
    permission: Permission
    description: str
    handler: Handler
    title: str = ""
    read_only: bool = False
    idempotent: bool = False
    destructive: bool = False
    open_world: bool = False  # reaches an external system (Cal.com, Stripe, SMS)
    examples: tuple[dict[str, Any], ...] = field(default=())

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def operation(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def tool_name(self) -> str:
        return self.name.replace(".", "_")

    def input_schema(self) -> dict[str, Any]:
        return _json_schema(self.input, "validation")

    def output_schema(self) -> dict[str, Any]:
        return _json_schema(self.output, "serialization")


def _json_schema(
    model: type[BaseModel], mode: Literal["validation", "serialization"]
) -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode)
    schema.pop("title", None)
    return schema


class OperationRegistry:
    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}
        self._by_tool_name: dict[str, Operation] = {}

    def register(self, op: Operation) -> Operation:
        if not NAME_PATTERN.match(op.name):
            raise ValueError(f"operation name {op.name!r} must look like 'service.operation'")
        existing = self._operations.get(op.name)
        if existing is not None and existing.handler is not op.handler:
            raise ValueError(f"operation {op.name!r} is declared twice")
        self._operations[op.name] = op
        self._by_tool_name[op.tool_name] = op
        return op

    def get(self, name: str) -> Operation | None:
        return self._operations.get(name)

    def by_tool_name(self, tool_name: str) -> Operation | None:
        return self._by_tool_name.get(tool_name)

    def __iter__(self) -> Iterator[Operation]:
        return iter(sorted(self._operations.values(), key=lambda op: op.name))

    def __len__(self) -> int:
        return len(self._operations)


registry = OperationRegistry()

F = TypeVar("F", bound=Callable[..., Any])


def operation(
    name: str,
    *,
    input: type[OperationInput],
    output: type[BaseModel],
    permission: Permission,
    description: str,
    title: str = "",
    read_only: bool = False,
    idempotent: bool = False,
    destructive: bool = False,
    open_world: bool = False,
    examples: tuple[dict[str, Any], ...] = (),
) -> Callable[[F], F]:
    """Declare and register an operation; the decorated function is its handler."""

    def register(handler: F) -> F:
        registry.register(
            Operation(
                name=name,
                input=input,
                output=output,
                permission=permission,
                description=description,
                handler=handler,
                title=title,
                read_only=read_only,
                idempotent=idempotent or read_only,
                destructive=destructive,
                open_world=open_world,
                examples=examples,
            )
        )
        return handler

    return register


def iso(value: dt.datetime | None) -> str | None:
    """Datetimes in outputs: ISO 8601 with their offset."""
    return value.isoformat() if value is not None else None
