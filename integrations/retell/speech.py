"""How dates, times and slots are read out by the German phone agent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from routing.speech import MONTHS_DE, WEEKDAYS_DE

WEEKDAYS, MONTHS = WEEKDAYS_DE, MONTHS_DE


def clock(value: dt.time | dt.datetime) -> str:
    """14:30, 9:00."""
    return f"{value.hour}:{value.minute:02d}"


def day(value: dt.date) -> str:
    """Dienstag, 24. November."""
    return f"{WEEKDAYS[value.weekday()]}, {value.day}. {MONTHS[value.month - 1]}"


def slot(start: dt.datetime, *, today: dt.date) -> str:
    """'Dienstag, 14:30' within the coming week; with the date beyond it (a weekday name alone
    would be ambiguous)."""
    if 0 <= (start.date() - today).days < 7:
        return f"{WEEKDAYS[start.weekday()]}, {clock(start)}"
    return f"{day(start.date())}, {clock(start)}"


def choices(items: Sequence[str]) -> str:
    """'a', 'a oder b', 'a, b oder c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} oder {items[-1]}"


def slot_list(starts: Sequence[str], zone: ZoneInfo, *, today: dt.date) -> str:
    """ISO starts (with offset) read out as choices in the branch's zone."""
    return choices(
        [slot(dt.datetime.fromisoformat(start).astimezone(zone), today=today) for start in starts]
    )
