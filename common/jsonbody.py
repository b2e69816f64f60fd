"""JSON from outside, read one way on every front door: well-formed, at most MAX_DEPTH levels
deep, no NaN or Infinity, and no NUL character in any string or key (PostgreSQL stores none in
text or jsonb, so one would fail the write after earlier rows were made)."""

from __future__ import annotations

import json
from typing import Any

from common.errors import ValidationFailed

# No request of ours nests deeper than a handful of levels (settings allow 4); 32 leaves room
# for providers' payloads while staying far below Python's recursion limit.
MAX_DEPTH = 32


class JsonBodyError(ValidationFailed):
    """A body that is no JSON (`malformed`) or JSON we do not take (too deep, NUL, NaN)."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message, details={"body": [message]})
        self.malformed = malformed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> Any:
    """The body as JSON; raises JsonBodyError (VALIDATION_FAILED, 400)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError as exc:
        raise JsonBodyError(too_deep_message()) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonBodyError("The body is not valid JSON.", malformed=True) from exc
    problem = json_problem(value)
    if problem is not None:
        raise JsonBodyError(problem)
    return value


def too_deep_message() -> str:
    return f"JSON may nest at most {MAX_DEPTH} levels."


def json_depth(value: Any) -> int:
    """How many levels of objects and arrays `value` nests (a scalar is 0); iterative, so any
    depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def json_problem(value: Any) -> str | None:
    """Why a decoded JSON value may not be taken in (too deep, a NUL character), else None."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "Text may not contain the NUL character (\\u0000)."
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                return too_deep_message()
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None
