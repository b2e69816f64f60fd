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

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from common.jsonbody import json_problem
from common.text import strip_blanks
from mcp_core.permissions import Permission

if TYPE_CHECKING:
    from tenants.models import Company

NAME_PATTERN = re.compile(r"^[a-z][a-zA-Z]*\.[a-z][a-zA-Z0-9]*$")


# Every integer an operation takes ends in a 64-bit column or is compared with one.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _refuse_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1; a client sending true for an id has a bug we must
    # not turn into "service 1".
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Expected a number, not true or false.")
    return value


def _refuse_non_bool(value: Any) -> Any:
    # lax mode reads 0, 1, "yes" and "off" as booleans; the schema says boolean, so a JSON
    # client sending 0 has a bug (query strings are read into booleans before validation).
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Expected true or false.")
    return value


def _strip_blanks(value: Any) -> Any:
    return strip_blanks(value) if isinstance(value, str) else value


def _guard_numbers(node: Any, seen: set[int]) -> None:
    """Wrap every int, float, bool and str schema below `node`: a boolean only where the schema
    says boolean, ints within 64 bits, texts without surrounding blanks."""
    if id(node) in seen:
        return
    seen.add(id(node))
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in list(children):
        if isinstance(child, dict) and child.get("type") in ("int", "float"):
            inner = dict(child)
            if inner["type"] == "int":
                inner.setdefault("ge", INT_MIN)
                inner.setdefault("le", INT_MAX)
            node[key] = core_schema.no_info_before_validator_function(_refuse_bool, inner)
        elif isinstance(child, dict) and child.get("type") == "str":
            node[key] = core_schema.no_info_before_validator_function(_strip_blanks, child)
        elif isinstance(child, dict) and child.get("type") == "bool":
            node[key] = core_schema.no_info_before_validator_function(_refuse_non_bool, child)
        elif isinstance(child, dict | list):
            _guard_numbers(child, seen)


class GuardedNumbers(BaseModel):
    """A model whose numbers take no boolean and whose integers stay within 64 bits; models
    nested in an operation's input that are not OperationInputs derive from it."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        _guard_numbers(schema, set())
        return schema


class OperationInput(GuardedNumbers):
    """Base of every input model: unknown fields are errors, not silently dropped; no boolean
    passes for a number, no integer beyond 64 bits, no NUL character, no deep nesting.

    Nested input models subclass it too, so the same rules hold at every level."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _plain_json(cls, data: Any) -> Any:
        # Front doors parse with common.jsonbody already; callers in this process (commands,
        # the phone agent's functions) get the same rules here.
        problem = json_problem(data)
        if problem is not None:
            raise PydanticCustomError("json_input", problem)
        return data


class OperationOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmptyInput(OperationInput):
    pass


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


# The highest page whose offset, (page - 1) × MAX_PAGE_SIZE, still fits a 64-bit column.
MAX_PAGE = INT_MAX // MAX_PAGE_SIZE


def page_field() -> Any:
    """The `page` argument of every list operation."""
    return Field(default=1, ge=1, le=MAX_PAGE, description="Page number, starting at 1.")


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


_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_text(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _DATE_TEXT.match(value)):
        return value
    raise PydanticCustomError("date_type", "Expected a date as YYYY-MM-DD.")


# Dates far from today are no one's appointment, and arithmetic near year 1 or 9999 overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999


def _in_years(value: dt.date) -> dt.date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError(
            "date_range", f"The year must be between {MIN_YEAR} and {MAX_YEAR}."
        )
    return value


# The published schema states the year range too, so a generated client never sends year 1.
_YEARS = r"(19\d\d|2\d\d\d)"
IsoDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_datetime_text),
    AfterValidator(_in_years),
    Field(json_schema_extra={"pattern": rf"^{_YEARS}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}"}),
]
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_date_text),
    AfterValidator(_in_years),
    Field(json_schema_extra={"pattern": rf"^{_YEARS}-\d{{2}}-\d{{2}}$"}),
]


# Formats the published schema names beyond JSON Schema's own (docs/contract.md, "Formats"):
# a client that does not know them still sees type and length; validation is the services'.
PHONE_FORMAT = "phone"  # dialable per the numbering plan: E.164, or a German national number
TIME_ZONE_FORMAT = "iana-time-zone"  # a name of the IANA database, e.g. "Europe/Berlin"


def _or_empty(fmt: str) -> dict[str, Any]:
    # "" clears an optional contact field; anything else must be of the format.
    return {"anyOf": [{"const": ""}, {"format": fmt}]}


NON_EMPTY: dict[str, Any] = {"minLength": 1}  # for `given`: an empty text counts as not given


def given(*names: str, **schemas: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema for "each of `names` is sent and not null" (and matches its entry in
    `schemas`), for the cross-field rules a model states in its `json_schema_extra`."""
    return {
        "required": list(names),
        "properties": {name: {"not": {"type": "null"}, **schemas.get(name, {})} for name in names},
    }


def after(field: str, *, strict: bool = False, max_days: int | None = None) -> dict[str, Any]:
    """The schema extension `x-after` on a field, for a rule JSON Schema cannot state: its value
    is after `field`'s (`strict`) or not before it, and at most `max_days` days (counted
    inclusively) on from it. Validation enforces the rule; the extension publishes it."""
    rule: dict[str, Any] = {"field": field, "strict": strict}
    if max_days is not None:
        rule["max_days"] = max_days
    return {"x-after": rule}


# On a list of {start, end} items: the items do not overlap (`x-disjoint`), and each lies
# inside the start–end of the object holding the list (`x-inside-parent`).
DISJOINT: dict[str, Any] = {"x-disjoint": True}
INSIDE_PARENT: dict[str, Any] = {"x-inside-parent": True}


PhoneText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    Field(json_schema_extra={"format": PHONE_FORMAT}),
]
PhoneOrEmpty = Annotated[
    str, StringConstraints(max_length=32), Field(json_schema_extra=_or_empty(PHONE_FORMAT))
]
EmailOrEmpty = Annotated[
    str, StringConstraints(max_length=254), Field(json_schema_extra=_or_empty("email"))
]
TimeZoneText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(json_schema_extra={"format": TIME_ZONE_FORMAT}),
]


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
    # Derived from `name` once: every call reads them (limits, scopes, metrics).
    service: str = field(init=False)  # "service"
    operation: str = field(init=False)  # "operation"
    tool_name: str = field(init=False)  # "service_operation"

    def __post_init__(self) -> None:
        service, _, operation = self.name.partition(".")
        object.__setattr__(self, "service", service)
        object.__setattr__(self, "operation", operation)
        object.__setattr__(self, "tool_name", self.name.replace(".", "_"))

    def input_schema(self) -> dict[str, Any]:
        return _json_schema(self.input, "validation")

    def output_schema(self) -> dict[str, Any]:
        return _json_schema(self.output, "serialization")


# Every front door refuses the NUL character (common.jsonbody); the schema of every text says so.
NO_NUL = "^[^\\u0000]*$"


NO_NUL_NAME: dict[str, Any] = {"pattern": NO_NUL}


def plain_json(levels: int) -> dict[str, Any]:
    """JSON Schema of a free JSON value nesting at most `levels` arrays or objects, with no
    NUL character in any text or name; `levels` is 0 for a scalar. A model that takes such
    values checks the same depth (common.jsonbody.json_depth)."""
    scalar: dict[str, Any] = {"type": ["string", "number", "boolean", "null"], "pattern": NO_NUL}
    value = scalar
    for _ in range(levels):
        value = {
            "anyOf": [
                scalar,
                {"type": "array", "items": value},
                {"type": "object", "propertyNames": NO_NUL_NAME, "additionalProperties": value},
            ]
        }
    return value


class _InputJsonSchema(GenerateJsonSchema):
    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        json_schema.setdefault("pattern", NO_NUL)
        return json_schema


# Where a JSON Schema holds subschemas: maps of them, lists of them, and single ones.
SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "not",
    "contains",
    "if",
    "then",
    "else",
)


def map_subschemas(schema: dict[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
    """`schema` with `change` applied to each of its direct subschemas (not to values such as
    defaults, examples or enums, which may hold keys like "title" of their own)."""
    mapped: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            value = {name: change(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            value = [change(sub) for sub in value]
        elif key in SCHEMA_VALUES and isinstance(value, dict):
            value = change(value)
        mapped[key] = value
    return mapped


def _without_titles(schema: Any) -> Any:
    # Pydantic titles every model and field with its own name restated ("Branch Id"): bytes
    # in every tool list and OpenAPI route that tell a reader nothing the name does not.
    if not isinstance(schema, dict):
        return schema
    titled = {k: v for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    return map_subschemas(titled, _without_titles)


def _json_schema(
    model: type[BaseModel], mode: Literal["validation", "serialization"]
) -> dict[str, Any]:
    generator = _InputJsonSchema if mode == "validation" else GenerateJsonSchema
    schema: dict[str, Any] = _without_titles(
        model.model_json_schema(mode=mode, schema_generator=generator)
    )
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

    def services(self) -> list[str]:
        """The services' names: the toolsets a client or an API key may choose."""
        return sorted({op.service for op in self._operations.values()})

    def __iter__(self) -> Iterator[Operation]:
        return iter(sorted(self._operations.values(), key=lambda op: op.name))

    def __len__(self) -> int:
        return len(self._operations)


registry = OperationRegistry()
# Where toolsets (services) are chosen, this name chooses every one.
ALL_TOOLSETS = "all"

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
