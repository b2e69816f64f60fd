"""Per-weekday business hours of a branch, validated with pydantic.

Stored as JSON on the branch: {"monday": {"open": "09:00", "close": "18:00", "is_open": true}, ...}.
Times are wall-clock times in the branch's own time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mcp_core.operations import after, given
from tenants.enums import WEEKDAYS

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hh_mm(value: Any) -> dt.time:
    """'09:30' → time(9, 30); raises ValueError for anything but a 24-hour HH:MM."""
    if isinstance(value, dt.time):
        return value
    match = _HH_MM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time as HH:MM")
    return dt.time(int(match[1]), int(match[2]))


class DayHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    open: dt.time | None = None
    close: dt.time | None = None
    is_open: bool = True

    @field_validator("open", "close", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # Only text (or null): pydantic alone would read 0 as midnight UTC.
        return None if value is None else parse_hh_mm(value)

    @model_validator(mode="after")
    def _close_after_open(self) -> DayHours:
        if self.is_open:
            if self.open is None or self.close is None:
                raise ValueError("an open day needs both 'open' and 'close'")
            if self.close <= self.open:
                raise ValueError("'close' must be after 'open'")
        return self


class WeekHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    monday: DayHours = DayHours(is_open=False)
    tuesday: DayHours = DayHours(is_open=False)
    wednesday: DayHours = DayHours(is_open=False)
    thursday: DayHours = DayHours(is_open=False)
    friday: DayHours = DayHours(is_open=False)
    saturday: DayHours = DayHours(is_open=False)
    sunday: DayHours = DayHours(is_open=False)

    def for_date(self, day: dt.date) -> DayHours:
        hours: DayHours = getattr(self, WEEKDAYS[day.weekday()])
        return hours

    def as_json(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "open": hours.open.strftime("%H:%M") if hours.open else None,
                "close": hours.close.strftime("%H:%M") if hours.close else None,
                "is_open": hours.is_open,
            }
            for name in WEEKDAYS
            for hours in [getattr(self, name)]
        }


def _week_hours_schema() -> dict[str, Any]:
    time = {"anyOf": [{"type": "string", "pattern": _HH_MM.pattern}, {"type": "null"}]}
    day = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "open": time,
            "close": {**time, **after("open", strict=True)},
            "is_open": {"type": "boolean", "default": True},
        },
        # An open day (the default) states both times.
        "if": {"required": ["is_open"], "properties": {"is_open": {"const": False}}},
        "else": given("open", "close"),
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: day for name in WEEKDAYS},
    }


# What DayHours/WeekHours accept, as the published schema states it.
WEEK_HOURS_SCHEMA = _week_hours_schema()


def default_business_hours() -> dict[str, dict[str, Any]]:
    """Mon–Fri 09:00–18:00, Saturday 09:00–14:00, Sunday closed."""
    weekday = {"open": "09:00", "close": "18:00", "is_open": True}
    return {
        "monday": weekday,
        "tuesday": weekday,
        "wednesday": weekday,
        "thursday": weekday,
        "friday": weekday,
        "saturday": {"open": "09:00", "close": "14:00", "is_open": True},
        "sunday": {"open": None, "close": None, "is_open": False},
    }


def parse_business_hours(raw: Any) -> WeekHours:
    """Validate stored or submitted hours; raises pydantic.ValidationError."""
    return WeekHours.model_validate(raw)


def business_hours_errors(raw: Any) -> dict[str, list[str]]:
    """Field-by-field messages for invalid hours, empty when valid."""
    try:
        parse_business_hours(raw)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "business_hours"
            errors.setdefault(field, []).append(err["msg"])
        return errors
    return {}
