"""GraphQL types generated from the operations' pydantic contracts, so the `@operation`
declaration stays the one definition of every field (docs/contract.md, 4.8).

Inputs keep the client's values as they were sent: dates and times are `String`, enums and
literals `String`, so the orchestrator's validation (not GraphQL's coercion) judges them and a
bad value is VALIDATION_FAILED with the same details as over REST. A field left out stays out
of the operation's arguments (partial updates tell "not given" from null). Outputs are the
operation's JSON result; the schema's default resolver reads dict keys.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, Union

import strawberry
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from strawberry.scalars import JSON

# Extra fields of a generated object type: name → a strawberry field with its own resolver
# (the nested reads of graphql_loaders). Registered before the schema is built.
ExtraFields = dict[str, Any]

_outputs: dict[type[BaseModel], type] = {}
_inputs: dict[type[BaseModel], type] = {}
_names: dict[str, type[BaseModel]] = {}
# The root types and the hand-written event types (graphql_events) are named already.
RESERVED = {"Query", "Mutation", "Subscription", "BookingEvent", "PreviousSlot"}


def _claim(name: str, model: type[BaseModel]) -> str:
    # Two contracts named alike (bookings' and staff's SlotOut) must not silently share a
    # GraphQL type: the second needs a name of its own in GRAPHQL_NAMES.
    if name in RESERVED:
        raise TypeError(f"GraphQL type name {name!r} is reserved; name {model} in GRAPHQL_NAMES")
    owner = _names.setdefault(name, model)
    if owner is not model:
        raise TypeError(f"GraphQL type name {name!r} is taken by {owner.__module__}.{owner}")
    return name


def _output_name(model: type[BaseModel], names: dict[type[BaseModel], str]) -> str:
    if model in names:
        return names[model]
    name = model.__name__
    for suffix, replacement in (("Output", "Result"), ("Out", "")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + replacement
    return name


def _input_name(model: type[BaseModel]) -> str:
    name = model.__name__
    return name[:-2] + "Input" if name.endswith("In") else name


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without None and Annotated, whether None was allowed)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        inner, _ = _unwrap(members[0] if len(members) == 1 else JSON)
        return inner, len(members) < len(typing.get_args(annotation))
    return annotation, False


def _scalar(annotation: Any) -> Any:
    if annotation is bool:
        return bool
    if annotation is int:
        return int
    if annotation is float:
        return float
    if annotation in (str, Decimal, dt.date, dt.datetime, dt.time):
        # Decimal as text, as the operation's JSON result and REST give it.
        return str
    if typing.get_origin(annotation) is Literal:
        return str
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str
    return JSON


def _graphql_type(annotation: Any, model_type: Callable[[type[BaseModel]], type]) -> Any:
    annotation, _ = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return list[_graphql_type(item, model_type)]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_type(annotation)
    return _scalar(annotation)


def _described(info: FieldInfo, **kwargs: Any) -> Any:
    return strawberry.field(description=info.description, **kwargs)


def output_type(
    model: type[BaseModel],
    *,
    names: dict[type[BaseModel], str],
    extra: dict[type[BaseModel], ExtraFields],
) -> type:
    """The object type of an output model (built once per model; nested models too)."""
    if model in _outputs:
        return _outputs[model]
    namespace: dict[str, Any] = {"__annotations__": {}}
    for field_name, info in model.model_fields.items():
        inner = _graphql_type(info.annotation, lambda m: output_type(m, names=names, extra=extra))
        _, nullable = _unwrap(info.annotation)
        namespace["__annotations__"][field_name] = inner | None if nullable else inner
        namespace[field_name] = _described(info)
    for field_name, field in extra.get(model, {}).items():
        namespace[field_name] = field
    name = _claim(_output_name(model, names), model)
    generated = strawberry.type(
        type(name, (), namespace), name=name, description=(model.__doc__ or "").strip() or None
    )
    _outputs[model] = generated
    return generated


def input_type(model: type[BaseModel]) -> type:
    """The input type of an input model: every field optional in GraphQL unless the model
    requires it; fields not sent are left out of the operation's arguments."""
    if model in _inputs:
        return _inputs[model]
    namespace: dict[str, Any] = {"__annotations__": {}}
    for field_name, info in model.model_fields.items():
        inner = _graphql_type(info.annotation, input_type)
        if info.is_required():
            namespace["__annotations__"][field_name] = inner
            namespace[field_name] = _described(info)
        else:
            namespace["__annotations__"][field_name] = inner | None
            namespace[field_name] = _described(info, default=strawberry.UNSET)
    name = _claim(_input_name(model), model)
    generated = strawberry.input(type(name, (), namespace), name=name)
    _inputs[model] = generated
    return generated


def arguments(value: Any) -> Any:
    """An input object as the operation's JSON arguments: fields not sent left out, nested
    input objects and lists converted alike."""
    if isinstance(value, list):
        return [arguments(item) for item in value]
    if hasattr(value, "__strawberry_definition__"):
        return {
            name: arguments(item)
            for name, item in vars(value).items()
            if item is not strawberry.UNSET
        }
    return value


def read_field(source: Any, name: str) -> Any:
    """The schema's default resolver: operation results are dicts, everything else objects."""
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name)
