"""Dates and times as a German agent reads them out ('Dienstag, 8. Juni 2027 um 14:00 Uhr').

Kept here rather than through the locale machinery: Retell variables must not depend on which
locales the server has installed.
"""

from __future__ import annotations

import datetime as dt

WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def german_date(day: dt.date) -> str:
    """'Dienstag, 8. Juni 2027'."""
    return f"{WEEKDAYS_DE[day.weekday()]}, {day.day}. {MONTHS_DE[day.month - 1]} {day.year}"


def german_datetime(local: dt.datetime) -> str:
    """'Dienstag, 8. Juni 2027 um 14:00 Uhr' — `local` already in the branch's zone."""
    return f"{german_date(local.date())} um {local:%H:%M} Uhr"
