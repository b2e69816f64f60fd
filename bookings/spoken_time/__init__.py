"""Dates and times as German-speaking callers say them (reading rules in docs/spoken-time.md)."""

from bookings.spoken_time.dates import parse_date
from bookings.spoken_time.errors import AmbiguousDate, UnclearDate, UnclearTime
from bookings.spoken_time.times import SpokenTime, parse_spoken_time, parse_time
from bookings.spoken_time.words import normalise

__all__ = [
    "AmbiguousDate",
    "SpokenTime",
    "UnclearDate",
    "UnclearTime",
    "normalise",
    "parse_date",
    "parse_spoken_time",
    "parse_time",
]
