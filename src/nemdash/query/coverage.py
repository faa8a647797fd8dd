"""What the store holds: rows, first and last interval, and gaps, per table.

An interval is missing when no row has that time-column value. The expected grid is the table's
interval (5 minutes; 30 minutes for rooftop PV and for trading prices before five-minute
settlement on 2021-10-01), period-ending, from the first interval to the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nemdash.query.connection import Database
from nemdash.tables import FIVE_MINUTE_SETTLEMENT_START, TABLES, TableSpec


@dataclass(frozen=True)
class Gap:
    """Missing intervals: every interval end after ``after`` and before ``before``."""

    after: datetime
    before: datetime
    missing: int


@dataclass(frozen=True)
class TableCoverage:
    """Rows, time span and gaps of one table (times are naive NEM time, period-ending)."""

    table: str
    rows: int
    first: datetime | None
    last: datetime | None
    intervals: int
    expected: int
    gaps: tuple[Gap, ...]
    """The largest gaps first (at most the number asked for)."""
    gap_count: int

    @property
    def missing(self) -> int:
        return self.expected - self.intervals


def table_coverage(db: Database, spec: TableSpec, *, max_gaps: int = 10) -> TableCoverage:
    """Coverage of one table, computed from its distinct interval ends."""
    col = spec.time_column
    cur = db.cursor()
    rows, first, last, intervals = cur.execute(
        f"SELECT count(*), min({col}), max({col}), count(DISTINCT {col}) FROM {spec.name}"
    ).fetchall()[0]
    if rows == 0 or first is None or last is None:
        return TableCoverage(spec.name, 0, None, None, 0, 0, (), 0)
    step = int(spec.interval.total_seconds())
    legacy = int((spec.legacy_interval or spec.interval).total_seconds())
    boundary = FIVE_MINUTE_SETTLEMENT_START
    # An interval ending at `t` should follow `prev` by the interval in force at `t`.
    gap_sql = f"""
        WITH t AS (SELECT DISTINCT {col} AS ts FROM {spec.name}),
        g AS (SELECT lag(ts) OVER (ORDER BY ts) AS prev, ts FROM t),
        s AS (
            SELECT prev, ts, epoch(ts) - epoch(prev) AS secs,
                   CASE WHEN ts <= ? THEN ? ELSE ? END AS step
            FROM g WHERE prev IS NOT NULL
        )
        SELECT prev, ts, CAST(secs / step AS BIGINT) - 1 AS missing
        FROM s WHERE secs > step ORDER BY missing DESC, prev
    """
    found = cur.execute(gap_sql, [boundary, legacy, step]).fetchall()
    gaps = tuple(Gap(a, b, int(n)) for a, b, n in found if n > 0)
    expected = int(intervals) + sum(g.missing for g in gaps)
    return TableCoverage(
        table=spec.name,
        rows=int(rows),
        first=first,
        last=last,
        intervals=int(intervals),
        expected=expected,
        gaps=gaps[:max_gaps],
        gap_count=len(gaps),
    )


def coverage(db: Database, *, max_gaps: int = 10) -> list[TableCoverage]:
    """Coverage of every MMS table nemdash keeps."""
    return [table_coverage(db, spec, max_gaps=max_gaps) for spec in TABLES.values()]


def describe_gap(gap: Gap, step: timedelta) -> str:
    """``2024-03-01 10:05 .. 10:25 (5 intervals)``: the first and last missing interval ends."""
    first = gap.after + step
    last = gap.before - step
    return f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} ({gap.missing} intervals)"
