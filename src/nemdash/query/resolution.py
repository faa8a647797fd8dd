"""The point budget: which resolution a series is drawn at, and how timestamps fall into buckets.

A chart never needs more points than it has pixels, so one function, :func:`choose_resolution`,
picks the finest resolution whose number of points over the range fits a budget (by default
:data:`DEFAULT_MAX_POINTS` per series, about one per pixel of a wide chart). Each resolution is
served by one stored grain: 5-minute points come from the 5-minute lake tables, 30-minute and
hourly ones from the 30-minute rollups, daily, monthly, quarterly and yearly ones from the daily
rollups (:attr:`Resolution.grain`).

Time follows NEM-FACTS ("Time"): NEM time (UTC+10, no daylight saving), **period-ending**. A
range ``(start, end]`` holds the 5-minute interval ends ``e`` with ``start < e <= end``; a bucket is
named by its end, and holds the intervals ending after the previous bucket end and at or before
its own. So the hourly bucket of the interval ending 14:05 ends at 15:00, the interval ending at
midnight belongs to the day (and month, quarter, year) before, and the day bucket of 1 March ends
at 2 March 00:00. :func:`count_points` counts a range's buckets exactly (months and quarters of
their real lengths, leap years included); :func:`bucket_end_sql` gives the same mapping as a
DuckDB expression for query functions, and :func:`bucket_end` in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from enum import StrEnum

from nemdash import nemtime
from nemdash.errors import QueryError

#: Default points per series: about one per pixel of a wide chart. 2,048 rather than 2,000 so
#: that a week of 5-minute data (7 x 288 = 2,016 points) is still drawn at full resolution.
DEFAULT_MAX_POINTS = 2048

#: Most points per series a caller may force (:func:`choose_resolution` with ``requested``):
#: 366 days of 5-minute data, about six years of 30-minute data.
MAX_FORCED_POINTS = 366 * 288

_FIVE = timedelta(minutes=5)
_MICROSECOND = timedelta(microseconds=1)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class Grain(StrEnum):
    """A stored grain: the 5-minute lake tables, or the 30-minute or daily rollups."""

    FIVE_MINUTE = "5m"
    THIRTY_MINUTE = "30m"
    DAY = "day"

    @property
    def interval(self) -> timedelta:
        """Length of one stored row's period."""
        return _GRAIN_INTERVAL[self]


_GRAIN_INTERVAL = {
    Grain.FIVE_MINUTE: timedelta(minutes=5),
    Grain.THIRTY_MINUTE: timedelta(minutes=30),
    Grain.DAY: timedelta(days=1),
}


class Resolution(StrEnum):
    """A resolution a series can be asked for, finest first."""

    FIVE_MINUTES = "5m"
    THIRTY_MINUTES = "30m"
    HOUR = "1h"
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def grain(self) -> Grain:
        """The stored grain that serves this resolution."""
        return _GRAIN[self]

    @property
    def nominal(self) -> timedelta:
        """The bucket length: exact up to a day; the average length for month, quarter, year."""
        return _NOMINAL[self]

    @property
    def fixed(self) -> timedelta | None:
        """The bucket length when every bucket has the same one (up to a day), else None."""
        return _FIXED.get(self)

    @classmethod
    def parse(cls, text: str | Resolution) -> Resolution:
        """A resolution from its name or an alias (``5min``, ``hour``, ``1d``, ``monthly``...)."""
        if isinstance(text, Resolution):
            return text
        cleaned = text.strip().lower()
        found = _ALIASES.get(cleaned)
        if found is None:
            raise QueryError(
                f"unknown resolution {text!r}; use one of {', '.join(r.value for r in cls)}"
            )
        return found


_GRAIN = {
    Resolution.FIVE_MINUTES: Grain.FIVE_MINUTE,
    Resolution.THIRTY_MINUTES: Grain.THIRTY_MINUTE,
    Resolution.HOUR: Grain.THIRTY_MINUTE,
    Resolution.DAY: Grain.DAY,
    Resolution.MONTH: Grain.DAY,
    Resolution.QUARTER: Grain.DAY,
    Resolution.YEAR: Grain.DAY,
}
_FIXED = {
    Resolution.FIVE_MINUTES: timedelta(minutes=5),
    Resolution.THIRTY_MINUTES: timedelta(minutes=30),
    Resolution.HOUR: timedelta(hours=1),
    Resolution.DAY: timedelta(days=1),
}
_YEAR_DAYS = 365.2425  # Gregorian average
_NOMINAL = {
    **_FIXED,
    Resolution.MONTH: timedelta(days=_YEAR_DAYS / 12),
    Resolution.QUARTER: timedelta(days=_YEAR_DAYS / 4),
    Resolution.YEAR: timedelta(days=_YEAR_DAYS),
}
#: Months in one bucket of the calendar resolutions.
_MONTHS = {Resolution.MONTH: 1, Resolution.QUARTER: 3, Resolution.YEAR: 12}
_ALIASES: dict[str, Resolution] = {r.value: r for r in Resolution} | {
    "5min": Resolution.FIVE_MINUTES,
    "5-minute": Resolution.FIVE_MINUTES,
    "30min": Resolution.THIRTY_MINUTES,
    "30-minute": Resolution.THIRTY_MINUTES,
    "60m": Resolution.HOUR,
    "60min": Resolution.HOUR,
    "hour": Resolution.HOUR,
    "hourly": Resolution.HOUR,
    "1d": Resolution.DAY,
    "daily": Resolution.DAY,
    "1mo": Resolution.MONTH,
    "monthly": Resolution.MONTH,
    "3mo": Resolution.QUARTER,
    "quarterly": Resolution.QUARTER,
    "1y": Resolution.YEAR,
    "yearly": Resolution.YEAR,
    "annual": Resolution.YEAR,
}


def _naive(value: datetime) -> datetime:
    """NEM wall-clock time of an aware or naive (taken as NEM time) datetime."""
    return nemtime.to_naive(nemtime.ensure_aware(value))


def _next_month_start(value: datetime, months: int) -> datetime:
    """The first instant of the ``months``-month calendar period after the one holding ``value``."""
    index = value.year * 12 + value.month - 1
    index = index - index % months + months
    return datetime(index // 12, index % 12 + 1, 1)


def bucket_end(resolution: Resolution, value: datetime) -> datetime:
    """The end of the bucket (period-ending) that holds the interval ending at ``value``.

    Keeps the tz-ness of ``value`` (an aware value is read in NEM time): 14:05 -> 15:00 at ``1h``;
    2024-03-01 00:00 -> 2024-03-01 00:00 at ``month`` (midnight closes February).
    """
    res = Resolution.parse(resolution)
    naive = _naive(value) - _MICROSECOND
    step = res.fixed
    if step is not None:
        midnight = datetime.combine(naive.date(), time())
        end = midnight + ((naive - midnight) // step + 1) * step
    else:
        end = _next_month_start(naive, _MONTHS[res])
    return end if value.tzinfo is None else end.replace(tzinfo=nemtime.NEM_TZ)


def _interval_span(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """First and last 5-minute interval ends in ``(start, end]`` (naive NEM), or None if none."""
    first = nemtime.interval_ending(start + _MICROSECOND)
    last = nemtime.interval_ending(end)
    if last > end:
        last -= _FIVE
    return (first, last) if first <= last else None


def _month_index(value: datetime) -> int:
    return value.year * 12 + value.month - 1


def count_points(start: datetime, end: datetime, resolution: Resolution) -> int:
    """Exact number of buckets of ``resolution`` that hold a 5-minute interval end in the range.

    The range is ``(start, end]``, period-ending, in NEM time (naive values are NEM time).
    """
    res = Resolution.parse(resolution)
    span = _interval_span(_naive(start), _naive(end))
    if span is None:
        return 0
    first, last = (bucket_end(res, t) for t in span)
    step = res.fixed
    if step is not None:
        return (last - first) // step + 1
    return (_month_index(last) - _month_index(first)) // _MONTHS[res] + 1


def bucket_ends(start: datetime, end: datetime, resolution: Resolution) -> Iterator[datetime]:
    """The bucket ends of the range ``(start, end]`` (naive NEM time), as :func:`count_points`."""
    res = Resolution.parse(resolution)
    span = _interval_span(_naive(start), _naive(end))
    if span is None:
        return
    current, last = (bucket_end(res, t) for t in span)
    step = res.fixed
    while current <= last:
        yield current
        current = current + step if step is not None else _next_month_start(current, _MONTHS[res])


def _describe(start: datetime, end: datetime) -> str:
    days = (end - start) / timedelta(days=1)
    return f"{days:,.4g} days ({nemtime.isoformat(start)} to {nemtime.isoformat(end)})"


def choose_resolution(
    start: datetime,
    end: datetime,
    max_points: int = DEFAULT_MAX_POINTS,
    *,
    requested: Resolution | str | None = None,
) -> Resolution:
    """The finest resolution with at most ``max_points`` points per series over ``(start, end]``.

    With ``requested``, that resolution is returned whatever the budget, unless it would give more
    than :data:`MAX_FORCED_POINTS` points: then :class:`QueryError` names the limit and the
    resolutions allowed for the range. Naive datetimes are NEM time; aware ones are converted.
    """
    if max_points < 1:
        raise QueryError(f"the point budget must be at least 1 (got max_points={max_points})")
    low, high = _naive(start), _naive(end)
    if high <= low:
        raise QueryError(
            f"the range is empty: its end {nemtime.isoformat(high)} is not after its start "
            f"{nemtime.isoformat(low)}"
        )
    if requested is not None:
        res = Resolution.parse(requested)
        points = count_points(low, high, res)
        if points > MAX_FORCED_POINTS:
            allowed = [
                r.value for r in Resolution if count_points(low, high, r) <= MAX_FORCED_POINTS
            ]
            raise QueryError(
                f"resolution {res.value} over {_describe(low, high)} gives {points:,} points per "
                f"series, more than the limit of {MAX_FORCED_POINTS:,} (366 days of 5-minute "
                f"data); for this range use one of {', '.join(allowed)}, or shorten the range"
            )
        return res
    points = 0
    for res in Resolution:
        points = count_points(low, high, res)
        if points <= max_points:
            return res
    raise QueryError(
        f"even yearly data gives {points:,} points over {_describe(low, high)}, more than the "
        f"budget of {max_points:,}; raise max_points or shorten the range"
    )


def _bucket_sql(resolution: Resolution, expression: str) -> str:
    res = Resolution.parse(resolution)
    shifted = f"({expression}) - INTERVAL 1 MICROSECOND"
    if res in (Resolution.FIVE_MINUTES, Resolution.THIRTY_MINUTES, Resolution.HOUR):
        # time_bucket's default origin (2000-01-03 00:00) is a midnight, and 5, 30 and 60 minutes
        # divide a day, so buckets line up with the clock.
        minutes = _NOMINAL[res] // timedelta(minutes=1)
        return f"(time_bucket(INTERVAL {minutes} MINUTE, {shifted}) + INTERVAL {minutes} MINUTE)"
    unit, length = {
        Resolution.DAY: ("day", "1 DAY"),
        Resolution.MONTH: ("month", "1 MONTH"),
        Resolution.QUARTER: ("quarter", "3 MONTH"),
        Resolution.YEAR: ("year", "1 YEAR"),
    }[res]
    return f"(CAST(date_trunc('{unit}', {shifted}) AS TIMESTAMP) + INTERVAL {length})"


def _checked(column: str) -> str:
    if not _IDENTIFIER.match(column):
        raise ValueError(f"not a column name: {column!r} (give a plain or table.column name)")
    return column


def bucket_end_sql(resolution: Resolution, column: str) -> str:
    """A DuckDB expression for the bucket end (``TIMESTAMP``) of a period-ending ``column``.

    ``column`` is a (possibly qualified) column name holding naive NEM-time interval ends at any
    grain finer than or equal to the resolution's (5-minute, 30-minute or day-end timestamps).
    """
    return _bucket_sql(resolution, _checked(column))


def day_bucket_end_sql(resolution: Resolution, day_column: str) -> str:
    """A DuckDB expression for the bucket end of a ``DATE`` column of calendar days.

    For daily rollups keyed by calendar day (the day of 00:05 .. 24:00): the day ends at the next
    midnight, which is then bucketed as :func:`bucket_end_sql` does. Only for ``day`` or coarser.
    """
    res = Resolution.parse(resolution)
    if res.grain is not Grain.DAY:
        raise ValueError(f"a calendar day cannot be split into {res.value} buckets")
    day_end = f"CAST({_checked(day_column)} AS TIMESTAMP) + INTERVAL 1 DAY"
    return _bucket_sql(res, day_end)
