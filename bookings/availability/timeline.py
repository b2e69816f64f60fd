"""Time for the availability engine: epoch seconds, wall-clock minutes and merged intervals.

Times are whole epoch seconds (ints) inside the engine: cheap to compare, sort and bisect.
A wall time is a local date with minutes since midnight, read in a zone with zoneinfo.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Func, QuerySet

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

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


class _EpochSeconds(Func):
    """A datetime column as whole seconds since 1970, computed by the database (PostgreSQL or
    SQLite): reading thousands of datetimes through the driver costs more than the search."""

    output_field = BigIntegerField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        template = "ROUND(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _epochs(rows: QuerySet[Any], start: str, end: str) -> Iterable[tuple[int, int, int]]:
    """(staff id, start, end) of each row, times as epoch seconds."""
    epochs = rows.annotate(epoch_start=_EpochSeconds(start), epoch_end=_EpochSeconds(end))
    values: Iterable[tuple[int, int, int]] = epochs.values_list(
        "staff_id", "epoch_start", "epoch_end"
    )
    return values


def _dt(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _local(ts: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone)
