"""Lean JSON Schemas for tools/list: what an assistant needs, nothing said twice.

An output schema's descriptions repeat the tool's own, so they go (an input's stay: they are
the argument docs). A subschema written out more than once — a depth-bounded free JSON value
nests its next level twice per level, so it doubles with each — is stated once under `$defs`
and referred to. Every constraint stays: the schema validates exactly what the operation's own
does (tests/mcp_core/test_mcp_toolsets.py resolves the references and compares).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mcp_core.operations import map_subschemas

# A repeat shorter than this costs less than a reference to it would save.
MIN_SHARED_BYTES = 120
SHARED_PREFIX = "shared"


def lean_schema(schema: dict[str, Any], *, descriptions: bool) -> dict[str, Any]:
    if not descriptions:
        schema = _without_descriptions(schema)
    return _shared(schema)


def _without_descriptions(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    kept = {k: v for k, v in schema.items() if not (k == "description" and isinstance(v, str))}
    return map_subschemas(kept, _without_descriptions)


def _key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def _count(schema: Any, seen: Counter[str]) -> None:
    if not isinstance(schema, dict):
        return
    seen[_key(schema)] += 1
    map_subschemas(schema, lambda sub: _count(sub, seen))


def _shared(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each subschema that occurs twice or more, and is long enough to be worth
    it, moved to `$defs` (largest first, so a repeat inside a repeat is shared too)."""
    seen: Counter[str] = Counter()
    _count(schema, seen)
    shared_keys = {key for key, n in seen.items() if n > 1 and len(key) >= MIN_SHARED_BYTES}
    if not shared_keys:
        return schema
    defs: dict[str, Any] = dict(schema.get("$defs", {}))
    names: dict[str, str] = {}

    def share(sub: Any) -> Any:
        if not isinstance(sub, dict):
            return sub
        key = _key(sub)
        if key not in shared_keys:
            return map_subschemas(sub, share)
        if key not in names:
            name = f"{SHARED_PREFIX}{len(names) + 1}"
            while name in defs:
                name += "_"
            names[key] = name
            defs[name] = map_subschemas(sub, share)
        return {"$ref": f"#/$defs/{names[key]}"}

    root = map_subschemas({k: v for k, v in schema.items() if k != "$defs"}, share)
    # The model definitions keep their names; what they hold is shared like the rest.
    defs.update({name: map_subschemas(sub, share) for name, sub in schema.get("$defs", {}).items()})
    return {**root, "$defs": defs}
