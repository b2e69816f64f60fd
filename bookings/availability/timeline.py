"""Epoch-second intervals and wall-clock time, as the engine computes with them.

Times are whole epoch seconds (ints) inside the engine: cheap to compare, sort and bisect.
A wall time is a local date with minutes since midnight, read in a zone with zoneinfo. The
grid of a day (`_grid`) is laid out here too, so its loop over the day's minutes stays in
this one module.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

# (start minute, end minute, breaks as (start minute, end minute)) of one working period
Period = tuple[int, int, tuple[tuple[int, int], ...]]
Week = dict[int, tuple[Period, ...]]  # weekday (0 = Monday) → its periods, by start

_NEVER = 2**62  # an epoch second after every other


class _Intervals:
    """Sorted, merged half-open [start, end) intervals of epoch seconds."""

    __slots__ = ("ends", "starts")

    def __init__(self, items: Iterable[tuple[int, int]] = ()) -> None:
        merged = _merge(items)
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect_right(self.ends, start)
        return index < len(self.starts) and self.starts[index] < end

    def pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))


def _merge(items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(items):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _fits(pieces: list[tuple[int, int]], begin: int, end: int) -> bool:
    """Whether [begin, end) lies inside one of the merged, sorted pieces."""
    index = bisect_right(pieces, (begin, _NEVER)) - 1
    return index >= 0 and pieces[index][1] >= end


def _length(pieces: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in pieces)


def _overlap_length(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Seconds covered by both lists of merged, sorted intervals (a sweep)."""
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _dates(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


def _minute(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _wall_ts(day: dt.date, minute: int, zone: ZoneInfo) -> int:
    """Epoch seconds of a local wall time (fold=0: the first of a repeated time; a time in the
    gap is read with the offset before it)."""
    wall = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return _ts(wall)


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def _dt(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _local(ts: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone)


def _grid(
    *,
    day: dt.date,
    periods: tuple[Period, ...],
    step: int,
    zone: ZoneInfo,
    duration: int,
    pieces: list[tuple[int, int]],
) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(epoch start, local start, local end) of the grid starts of a day, every `step` minutes
    from the start of each working period, whose `duration` seconds fit in `pieces`."""
    candidates: dict[int, tuple[int, dt.datetime, dt.datetime]] = {}
    for period_start, period_end, _ in periods:
        for minute in range(period_start, period_end, step):
            begin = _wall_ts(day, minute, zone)  # fold=0: the first of a repeated time
            start = _local(begin, zone)
            if start.date() != day or _minute(start.time()) != minute:
                continue  # in the spring-forward gap: this wall time does not exist
            end = begin + duration
            if begin not in candidates and _fits(pieces, begin, end):
                candidates[begin] = (begin, start, _local(end, zone))
    return [candidates[key] for key in sorted(candidates)]
