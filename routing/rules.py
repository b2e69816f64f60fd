"""What a routing rule's `conditions` may say, and when they match a call.

Stored as JSON on `RoutingRule.conditions`; every writer (the updateRoutingRules operation, the
admin) validates with `RuleConditions`, so routing can trust what it reads. A rule matches when
every condition it sets holds; a rule without conditions always matches.

    {"time_windows": [{"start": "18:00", "end": "09:00", "weekdays": ["monday", ...]}],
     "languages": ["en", "tr"],
     "min_ongoing_calls": 5}

Time windows are wall-clock times in the dialled branch's zone. A window whose end is before
its start runs over midnight: it belongs to the weekday it starts on.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mcp_core.operations import GuardedNumbers
from tenants.enums import WEEKDAYS
from tenants.hours import parse_hh_mm
from tenants.validators import LANGUAGE_PATTERN

HH_MM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
MAX_TIME_WINDOWS = 14
MAX_LANGUAGES = 20

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
HhMm = Annotated[
    str, Field(description="24-hour local time HH:MM, e.g. '18:00'.", pattern=HH_MM_PATTERN)
]


def language_primary(code: str) -> str:
    """'de-DE' → 'de', 'EN' → 'en': calls and rules compare the primary language subtag."""
    return code.split("-", 1)[0].split("_", 1)[0].strip().lower()


class TimeWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: HhMm
    # A window may run over midnight (end before start), but not be empty.
    end: Annotated[HhMm, Field(json_schema_extra={"x-differs": "start"})]
    weekdays: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS),  # type: ignore[arg-type]
        min_length=1,
        max_length=7,
        description="Weekdays the window starts on; all seven when left out.",
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("weekdays", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.strip().lower() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("weekdays")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each weekday at most once")
        return sorted(value, key=WEEKDAYS.index)

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("'start' and 'end' must differ")
        return self

    def contains(self, local: dt.datetime) -> bool:
        start, end, now = parse_hh_mm(self.start), parse_hh_mm(self.end), local.time()
        today = WEEKDAYS[local.weekday()]
        if start < end:
            return today in self.weekdays and start <= now < end
        # Over midnight: the evening part belongs to today, the morning part to yesterday.
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        return (today in self.weekdays and now >= start) or (
            yesterday in self.weekdays and now < end
        )


class RuleConditions(GuardedNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time_windows: list[TimeWindow] = Field(
        default_factory=list,
        max_length=MAX_TIME_WINDOWS,
        description="Matches when the call falls in any of these windows (branch's local time).",
    )
    languages: list[str] = Field(
        default_factory=list,
        max_length=MAX_LANGUAGES,
        description="ISO 639-1 codes, e.g. ['en', 'tr']; matches the caller's language.",
        json_schema_extra={"items": {"type": "string", "pattern": r"^\s*[A-Za-z]{2}\s*$"}},
    )
    min_ongoing_calls: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Matches when at least this many calls are ongoing at the dialled branch.",
    )

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        codes: list[Any] = []
        for item in value:
            if not isinstance(item, str) or not LANGUAGE_PATTERN.match(item.strip().lower()):
                raise ValueError(f"{item!r} is not an ISO 639-1 language code such as 'de'")
            code = item.strip().lower()
            if code not in codes:
                codes.append(code)
        return codes

    def matches(self, *, local_now: dt.datetime, language: str, ongoing_calls: int) -> bool:
        if self.time_windows and not any(w.contains(local_now) for w in self.time_windows):
            return False
        if self.languages and language_primary(language) not in self.languages:
            return False
        return self.min_ongoing_calls is None or ongoing_calls >= self.min_ongoing_calls

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
