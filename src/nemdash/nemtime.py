"""NEM time: the one clock of the whole project.

Facts (see NEM-FACTS.md, "Time"):

* NEM time is AEST, UTC+10 all year, with no daylight saving (``Australia/Brisbane``).
* Every timestamp marks the **end** of its interval: ``14:05`` covers 14:00-14:05, and a calendar
  day's 5-minute intervals run 00:05 ... 24:00 (the next day's 00:00).
* The market ("trading") day runs 04:05 to 04:00 the next morning.
* Five-minute settlement began with the trading day of 2021-10-01: the first 5-minute settled
  interval ends at 2021-10-01 04:05.

Conventions inside nemdash:

* In the Parquet lake and in DuckDB, time columns are ``TIMESTAMP`` without a zone whose wall-clock
  value **is NEM time** (exactly what AEMO's files say), so values match AEMO's documents.
* In Python, times are timezone-aware datetimes in :data:`NEM_TZ`. :func:`to_naive` and
  :func:`from_naive` convert at the boundary; a naive value is never passed to ``astimezone``
  (Python would read it as the host's local time).
* When a timestamp leaves the system with a zone, the offset is ``+10:00``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone

#: NEM time: a fixed UTC+10 offset, with no daylight saving.
NEM_TZ = timezone(timedelta(hours=10), "AEST")

FIVE_MINUTES = timedelta(minutes=5)
THIRTY_MINUTES = timedelta(minutes=30)
ONE_DAY = timedelta(days=1)

#: The market day starts with the interval ending 04:05 (i.e. the one starting 04:00).
MARKET_DAY_START = time(4, 0)

#: End of the first interval settled on 5-minute prices (NEM time, aware).
FIVE_MINUTE_SETTLEMENT_START = datetime(2021, 10, 1, 4, 5, tzinfo=NEM_TZ)

_AEMO_TS = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})$")


def now() -> datetime:
    """The current time in NEM time (aware)."""
    return datetime.now(UTC).astimezone(NEM_TZ)


def from_naive(value: datetime) -> datetime:
    """Attach NEM time to a naive wall-clock value read from the lake or an AEMO file."""
    if value.tzinfo is not None:
        raise ValueError(f"expected a naive NEM-time datetime, got an aware one: {value!r}")
    return value.replace(tzinfo=NEM_TZ)


def to_naive(value: datetime) -> datetime:
    """Convert an aware datetime to the naive NEM wall-clock value the lake stores."""
    if value.tzinfo is None:
        raise ValueError(
            f"refusing to guess the zone of a naive datetime {value!r}: attach NEM_TZ first"
        )
    return value.astimezone(NEM_TZ).replace(tzinfo=None)


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` in NEM time; a naive value is taken to be NEM time already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=NEM_TZ)
    return value.astimezone(NEM_TZ)


def parse_aemo(text: str) -> datetime:
    """Parse AEMO's ``YYYY/MM/DD HH:MM:SS`` (quotes allowed) into a naive NEM-time datetime."""
    match = _AEMO_TS.match(text.strip().strip('"'))
    if match is None:
        raise ValueError(f"not an AEMO timestamp (YYYY/MM/DD HH:MM:SS): {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, s)


def isoformat(value: datetime) -> str:
    """ISO 8601 with the ``+10:00`` offset, e.g. ``2025-12-27T00:05:00+10:00``."""
    return ensure_aware(value).isoformat()


def interval_ending(value: datetime, minutes: int = 5) -> datetime:
    """The end of the period-ending interval that contains ``value`` (keeps its tz-ness).

    A timestamp exactly on a boundary *is* an interval end: ``14:05`` -> ``14:05``;
    ``14:05:01`` -> ``14:10``.
    """
    step = timedelta(minutes=minutes)
    base = value.replace(tzinfo=None)
    midnight = datetime.combine(base.date(), time())
    offset = base - midnight
    ceil = -(-offset // step) * step
    result = midnight + ceil
    return result.replace(tzinfo=value.tzinfo)


def market_day(interval_end: datetime) -> date:
    """The market (trading) day of a period-ending interval: 04:05 .. 04:00 next morning."""
    return (interval_end.replace(tzinfo=None) - timedelta(hours=4, minutes=5)).date()


def calendar_day(interval_end: datetime) -> date:
    """The calendar day an interval belongs to: 00:05 .. 24:00 (the next day's 00:00)."""
    return (interval_end.replace(tzinfo=None) - timedelta(microseconds=1)).date()


def intervals(start: datetime, end: datetime, minutes: int = 5) -> Iterator[datetime]:
    """Interval ends ``e`` with ``start < e <= end`` on the ``minutes`` grid (period-ending)."""
    step = timedelta(minutes=minutes)
    current = interval_ending(start + timedelta(microseconds=1), minutes)
    while current <= end:
        yield current
        current += step


def parse_user_time(text: str, *, end_of_day: bool = False) -> datetime:
    """Parse a date or datetime given by a user (``2024-03-01``, ``2024-03-01T14:05``,
    ``2024-03-01 14:05+10:00``) into an aware NEM-time datetime.

    A bare date means that day's midnight, or with ``end_of_day`` the next midnight, so that
    ``--from 2024-03-01 --to 2024-03-01`` covers the whole day (intervals 00:05 .. 24:00).
    A value with another offset is converted; a value without one is NEM time.
    """
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            midnight = datetime.combine(day, time(), tzinfo=NEM_TZ)
            return midnight + ONE_DAY if end_of_day else midnight
        return ensure_aware(datetime.fromisoformat(cleaned.replace("/", "-")))
    except ValueError as exc:
        raise ValueError(
            f"not a date or time: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, NEM time)"
        ) from exc
