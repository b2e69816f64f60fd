"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS) teaching the fuzzer what our published
schema states beyond JSON Schema (docs/contract.md, "Formats and cross-field rules"):

- the formats `phone` and `iana-time-zone`, drawn from real numbers and zone names, and
  `email` as Django's EmailValidator reads it (the coverage phase ignores registered formats,
  so a positive value it drew that is not of its format is replaced by one that is);
- the extensions `x-after`, `x-differs`, `x-excludes`, `x-unique-by`, `x-disjoint` and
  `x-inside-parent`: a positive case is brought in line with them, as a client reading the
  schema would send it. Negative cases are left as drawn, so every violation still has to be
  refused."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import phonenumbers
import schemathesis
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _example_numbers() -> list[str]:
    numbers = []
    for region in ("DE", "AT", "CH", "FR", "GB", "US"):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
                if region == "DE":
                    national = phonenumbers.PhoneNumberFormat.NATIONAL
                    numbers.append(phonenumbers.format_number(example, national))
    return numbers


def _is_phone(value: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, "DE")))
    except phonenumbers.NumberParseException:
        return False


def _is_email(value: str) -> bool:
    try:
        EmailValidator()(value)
    except ValidationError:
        return False
    return True


PHONES = _example_numbers()
ZONES = sorted(zoneinfo.available_timezones())
# format → (is the value of it, a value that is)
FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "phone": (_is_phone, PHONES[0]),
    "iana-time-zone": (lambda value: value in ZONES, "Europe/Berlin"),
    "email": (_is_email, "kundin@example.de"),
}
schemathesis.openapi.format("phone", st.sampled_from(PHONES))
schemathesis.openapi.format("iana-time-zone", st.sampled_from(ZONES))


class Rules:
    """The extensions found anywhere in one operation's definition, by field name."""

    def __init__(self, definition: Any) -> None:
        self.after: dict[str, dict[str, Any]] = {}
        self.differs: dict[str, str] = {}
        self.unique_by: dict[str, str] = {}
        self.formats: dict[str, str] = {}
        self.excludes: dict[str, list[str]] = {}
        self.disjoint: set[str] = set()
        self.inside_parent: set[str] = set()
        for name, schema in _named_schemas(definition):
            if "x-after" in schema:
                self.after[name] = schema["x-after"]
            if "x-differs" in schema:
                self.differs[name] = schema["x-differs"]
            if "x-unique-by" in schema:
                self.unique_by[name] = schema["x-unique-by"]
            if fmt := _format_of(schema):
                self.formats[name] = fmt
            if "x-excludes" in schema:
                self.excludes[name] = schema["x-excludes"]
            if schema.get("x-disjoint"):
                self.disjoint.add(name)
            if schema.get("x-inside-parent"):
                self.inside_parent.add(name)

    def apply(self, values: dict[str, Any]) -> None:
        for value in list(values.values()):
            if isinstance(value, dict):
                self.apply(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        self.apply(item)
        for name, others in self.excludes.items():
            if values.get(name) is not None:
                for other in others:
                    values.pop(other, None)
        for name, fmt in self.formats.items():
            is_of_format, example = FORMATS[fmt]
            value = values.get(name)
            if isinstance(value, str) and value and not is_of_format(value):
                values[name] = example
        for later, rule in self.after.items():
            _order(values, rule["field"], later, rule["strict"], rule.get("max_days"))
        for later, first in self.differs.items():
            if values.get(later) is not None and values.get(later) == values.get(first):
                _order(values, first, later, True, None)
        for name, key in self.unique_by.items():
            if isinstance(values.get(name), list):
                values[name] = list({str(item.get(key)): item for item in values[name]}.values())
        for name, value in values.items():
            if isinstance(value, list) and name in self.inside_parent:
                values[name] = value = [item for item in value if _inside(item, values)]
            if isinstance(value, list) and name in self.disjoint:
                values[name] = _disjoint(value)


def _format_of(schema: dict[str, Any]) -> str | None:
    """The one of FORMATS a property is of, directly or as the non-empty choice."""
    for candidate in [schema, *schema.get("anyOf", [])]:
        if isinstance(candidate, dict) and candidate.get("format") in FORMATS:
            return str(candidate["format"])
    return None


def _named_schemas(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, list):
        for item in node:
            yield from _named_schemas(item)
    elif isinstance(node, dict):
        if isinstance(node.get("name"), str) and isinstance(node.get("schema"), dict):
            yield node["name"], node["schema"]  # a query or path parameter
        for name, schema in (node.get("properties") or {}).items():
            if isinstance(schema, dict):
                yield name, schema
        for value in node.values():
            yield from _named_schemas(value)


def _parse(text: Any) -> tuple[Any, str] | None:
    """(value, kind) for a date, a date-time or an HH:MM time; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        if len(text) == 5 and text[2] == ":":
            # A wall-clock time on an arbitrary day, only to compare and step it.
            return dt.datetime.strptime(text, "%H:%M").replace(tzinfo=dt.UTC), "time"
        if len(text) == 10:
            return dt.date.fromisoformat(text), "date"
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=BERLIN)), "datetime"


def _format(value: Any, kind: str) -> str:
    if kind == "time":
        return str(value.strftime("%H:%M"))
    return str(value.isoformat())


def _order(
    values: dict[str, Any], first: str, later: str, strict: bool, max_days: int | None
) -> None:
    start, end = _parse(values.get(first)), _parse(values.get(later))
    if start is not None and start[1] == "date" and max_days and values.get(later) is None:
        # The later date's default (today) may lie beyond the span: send it.
        values[later], end = values[first], start
    if start is None or end is None or start[1] != end[1]:
        return
    kind = start[1]
    low, high = sorted((start[0], end[0]))
    step = {"date": dt.timedelta(days=1), "datetime": dt.timedelta(minutes=1)}.get(
        kind, dt.timedelta(minutes=1)
    )
    if strict and low == high:
        if kind == "time" and high.hour == 23 and high.minute == 59:
            low = high - step
        else:
            high = low + step
    if max_days is not None:
        # Dates count both ends; durations are measured.
        span = dt.timedelta(days=max_days - 1 if kind == "date" else max_days)
        if high - low > span:
            high = low + span
    if kind == "time" and high.date() != low.date():
        return
    values[first], values[later] = _format(low, kind), _format(high, kind)


def _inside(item: Any, parent: dict[str, Any]) -> bool:
    bounds = [_parse(parent.get(key)) for key in ("start", "end")]
    times = [_parse(item.get(key)) if isinstance(item, dict) else None for key in ("start", "end")]
    if None in bounds or None in times:
        return True
    return bool(bounds[0][0] <= times[0][0] and times[1][0] <= bounds[1][0])  # type: ignore[index]


def _disjoint(items: list[Any]) -> list[Any]:
    kept: list[Any] = []
    for item in sorted(items, key=lambda item: str(item.get("start", ""))):
        if kept and str(item.get("start", "")) < str(kept[-1].get("end", "")):
            continue
        kept.append(item)
    return kept


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    rules = Rules(case.operation.definition.raw)
    if isinstance(case.body, dict):
        rules.apply(case.body)
    if isinstance(case.query, dict):
        rules.apply(case.query)
    return case
