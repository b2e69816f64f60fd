"""Lean JSON Schemas for tools/list: what an assistant needs, none of pydantic's repetition.

Pydantic titles every model and field with a restatement of its name; an output schema's
descriptions repeat the tool's own. Both go; every constraint (type, bounds, pattern, enum,
required, additionalProperties, defaults) stays, and input descriptions (the argument docs)
stay.
"""

from __future__ import annotations

from typing import Any

_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains")


def lean_schema(schema: dict[str, Any], *, descriptions: bool) -> dict[str, Any]:
    lean: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "description" and not descriptions:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            value = {k: lean_schema(v, descriptions=descriptions) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            value = [lean_schema(v, descriptions=descriptions) for v in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            value = lean_schema(value, descriptions=descriptions)
        lean[key] = value
    return lean
