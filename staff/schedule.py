"""Validation of weekly working periods and their breaks, shared by admin forms and services."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from typing import Any

from tenants.hours import parse_hh_mm


def break_errors(start: dt.time, end: dt.time, breaks: Any) -> list[str]:
    """Messages for breaks that are malformed, reversed, overlapping or outside start–end."""
    if not isinstance(breaks, list):
        return ["breaks must be a list of {start, end}"]
    errors: list[str] = []
    periods: list[tuple[dt.time, dt.time]] = []
    for index, item in enumerate(breaks):
        if not isinstance(item, dict) or set(item) != {"start", "end"}:
            errors.append(f"break {index + 1}: needs exactly 'start' and 'end'")
            continue
        try:
            b_start, b_end = parse_hh_mm(item["start"]), parse_hh_mm(item["end"])
        except ValueError as exc:
            errors.append(f"break {index + 1}: {exc}")
            continue
        if b_end <= b_start:
            errors.append(f"break {index + 1}: end must be after start")
        elif b_start < start or b_end > end:
            errors.append(f"break {index + 1}: must lie inside {start:%H:%M}–{end:%H:%M}")
        else:
            periods.append((b_start, b_end))
    periods.sort()
    for (_, prev_end), (next_start, _) in pairwise(periods):
        if next_start < prev_end:
            errors.append("breaks must not overlap")
            break
    return errors
