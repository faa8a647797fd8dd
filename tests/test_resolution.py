"""The point budget: exact point counts, the finest resolution that fits, caps, bucket SQL.

Counts are checked by hand on calendar edges (leap years, month ends, period-ending midnight) and
against a brute force over every 5-minute interval end; the DuckDB bucket expressions are checked
against the Python ones on a real DuckDB.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemdash import nemtime
from nemdash.errors import QueryError
from nemdash.query.resolution import (
    DEFAULT_MAX_POINTS,
    MAX_FORCED_POINTS,
    Grain,
    Resolution,
    bucket_end,
    bucket_end_sql,
    bucket_ends,
    choose_resolution,
    count_points,
    day_bucket_end_sql,
)

R = Resolution
DAY = timedelta(days=1)


def test_one_day_gives_288_five_minute_points_and_one_daily_point() -> None:
    start, end = datetime(2024, 3, 1), datetime(2024, 3, 2)
    counts = {r: count_points(start, end, r) for r in R}
    assert counts == {
        R.FIVE_MINUTES: 288,
        R.THIRTY_MINUTES: 48,
        R.HOUR: 24,
        R.DAY: 1,
        R.MONTH: 1,
        R.QUARTER: 1,
        R.YEAR: 1,
    }


def test_a_leap_year_has_366_days_and_twelve_months() -> None:
    start, end = datetime(2024, 1, 1), datetime(2025, 1, 1)
    assert count_points(start, end, R.FIVE_MINUTES) == 366 * 288
    assert count_points(start, end, R.HOUR) == 366 * 24
    assert count_points(start, end, R.DAY) == 366
    assert count_points(start, end, R.MONTH) == 12
    assert count_points(start, end, R.QUARTER) == 4
    assert count_points(start, end, R.YEAR) == 1


def test_midnight_closes_the_month_before() -> None:
    # The interval ending 2024-02-01 00:00 covers 23:55-24:00 on 31 January.
    assert count_points(datetime(2024, 1, 31), datetime(2024, 2, 1), R.MONTH) == 1
    assert count_points(datetime(2024, 1, 31), datetime(2024, 2, 1, 0, 5), R.MONTH) == 2
    assert count_points(datetime(2024, 1, 31), datetime(2024, 2, 1, 0, 5), R.DAY) == 2
    assert bucket_end(R.MONTH, datetime(2024, 2, 1)) == datetime(2024, 2, 1)
    assert bucket_end(R.MONTH, datetime(2024, 2, 1, 0, 5)) == datetime(2024, 3, 1)
    assert bucket_end(R.YEAR, datetime(2025, 1, 1)) == datetime(2025, 1, 1)
    assert bucket_end(R.QUARTER, datetime(2024, 5, 17, 9, 30)) == datetime(2024, 7, 1)


def test_the_hour_bucket_of_the_interval_ending_1405_ends_at_1500() -> None:
    assert bucket_end(R.HOUR, datetime(2024, 3, 1, 14, 5)) == datetime(2024, 3, 1, 15)
    assert bucket_end(R.HOUR, datetime(2024, 3, 1, 15, 0)) == datetime(2024, 3, 1, 15)
    assert bucket_end(R.THIRTY_MINUTES, datetime(2024, 3, 1, 14, 35)) == datetime(2024, 3, 1, 15)
    assert bucket_end(R.DAY, datetime(2024, 3, 1, 0, 5)) == datetime(2024, 3, 2)
    aware = datetime(2024, 3, 1, 4, 5, tzinfo=UTC)  # 14:05 NEM time
    assert bucket_end(R.HOUR, aware) == datetime(2024, 3, 1, 15, tzinfo=nemtime.NEM_TZ)


def test_unaligned_ranges_count_the_buckets_they_touch() -> None:
    start, end = datetime(2024, 3, 1, 14, 7), datetime(2024, 3, 1, 15, 2)
    # Interval ends 14:10 .. 15:00: eleven 5-minute points, in the half hours ending 14:30, 15:00.
    assert count_points(start, end, R.FIVE_MINUTES) == 11
    assert count_points(start, end, R.THIRTY_MINUTES) == 2
    assert count_points(start, end, R.HOUR) == 1
    assert list(bucket_ends(start, end, R.THIRTY_MINUTES)) == [
        datetime(2024, 3, 1, 14, 30),
        datetime(2024, 3, 1, 15),
    ]
    # No interval ends inside (14:01, 14:04].
    assert count_points(datetime(2024, 3, 1, 14, 1), datetime(2024, 3, 1, 14, 4), R.DAY) == 0


def test_aware_times_are_read_in_nem_time() -> None:
    start = datetime(2024, 2, 29, 14, tzinfo=UTC)  # 2024-03-01 00:00 NEM time
    end = datetime(2024, 3, 1, 14, tzinfo=UTC)
    assert count_points(start, end, R.DAY) == 1
    assert count_points(start, end, R.MONTH) == 1


def _brute_force(start: datetime, end: datetime, resolution: Resolution) -> list[datetime]:
    """Distinct bucket ends of every 5-minute interval end in (start, end]."""
    return sorted({bucket_end(resolution, t) for t in nemtime.intervals(start, end)})


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(datetime(2019, 12, 1), datetime(2025, 1, 1)),
    length=st.timedeltas(timedelta(0), timedelta(days=70)),
    resolution=st.sampled_from(list(R)),
)
def test_counts_match_a_brute_force_over_every_interval(
    start: datetime, length: timedelta, resolution: Resolution
) -> None:
    end = start + length
    expected = _brute_force(start, end, resolution)
    assert count_points(start, end, resolution) == len(expected)
    assert list(bucket_ends(start, end, resolution)) == expected


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(datetime(2009, 1, 1), datetime(2030, 1, 1)),
    length=st.timedeltas(timedelta(minutes=1), timedelta(days=365 * 12)),
    budget=st.integers(1, 20_000),
)
def test_the_chosen_resolution_is_the_finest_within_the_budget(
    start: datetime, length: timedelta, budget: int
) -> None:
    end = start + length
    if count_points(start, end, R.YEAR) > budget:
        with pytest.raises(QueryError, match="budget"):
            choose_resolution(start, end, budget)
        return
    chosen = choose_resolution(start, end, budget)
    assert count_points(start, end, chosen) <= budget
    finer = list(R)[: list(R).index(chosen)]
    assert all(count_points(start, end, r) > budget for r in finer)


def test_default_budget_keeps_a_week_at_five_minutes_and_five_years_at_days() -> None:
    now = datetime(2026, 5, 1, 14, 3)
    assert choose_resolution(now - timedelta(days=7), now) is R.FIVE_MINUTES
    assert choose_resolution(now - timedelta(days=8), now) is R.THIRTY_MINUTES
    assert choose_resolution(now - timedelta(days=42), now) is R.THIRTY_MINUTES
    assert choose_resolution(now - timedelta(days=43), now) is R.HOUR
    assert choose_resolution(now - timedelta(days=85), now) is R.HOUR
    assert choose_resolution(now - timedelta(days=90), now) is R.DAY
    assert choose_resolution(now - timedelta(days=5 * 365), now) is R.DAY
    assert choose_resolution(now - timedelta(days=6 * 365), now) is R.MONTH
    assert DEFAULT_MAX_POINTS >= 7 * 288


def test_a_forced_resolution_ignores_the_budget_within_the_cap() -> None:
    start, end = datetime(2024, 1, 1), datetime(2024, 4, 1)
    assert choose_resolution(start, end, 10, requested=R.FIVE_MINUTES) is R.FIVE_MINUTES
    assert choose_resolution(start, end, requested="hourly") is R.HOUR


def test_a_forced_resolution_over_the_cap_is_refused_with_the_allowed_ones() -> None:
    start, end = datetime(2020, 1, 1), datetime(2024, 1, 1)
    with pytest.raises(QueryError) as info:
        choose_resolution(start, end, requested=R.FIVE_MINUTES)
    message = str(info.value)
    assert f"{MAX_FORCED_POINTS:,}" in message
    assert "30m, 1h, day, month, quarter, year" in message
    assert "1,461 days" in message
    # 366 days of 5-minute data is exactly the cap.
    year = (datetime(2024, 1, 1), datetime(2025, 1, 1))
    assert choose_resolution(*year, requested=R.FIVE_MINUTES) is R.FIVE_MINUTES
    with pytest.raises(QueryError, match="use one of 30m"):
        choose_resolution(year[0], year[1] + timedelta(minutes=5), requested=R.FIVE_MINUTES)


@pytest.mark.parametrize(
    ("start", "end", "budget", "match"),
    [
        (datetime(2024, 1, 2), datetime(2024, 1, 1), DEFAULT_MAX_POINTS, "range is empty"),
        (datetime(2024, 1, 1), datetime(2024, 1, 1), DEFAULT_MAX_POINTS, "range is empty"),
        (datetime(2024, 1, 1), datetime(2024, 1, 2), 0, "at least 1"),
        (datetime(2020, 1, 1), datetime(2024, 1, 1), 3, "even yearly data gives 4 points"),
    ],
)
def test_impossible_requests_are_refused_clearly(
    start: datetime, end: datetime, budget: int, match: str
) -> None:
    with pytest.raises(QueryError, match=match):
        choose_resolution(start, end, budget)


def test_resolutions_parse_from_names_and_aliases() -> None:
    assert Resolution.parse("5min") is R.FIVE_MINUTES
    assert Resolution.parse(" Daily ") is R.DAY
    assert Resolution.parse(R.QUARTER) is R.QUARTER
    with pytest.raises(QueryError, match="5m, 30m, 1h, day, month, quarter, year"):
        Resolution.parse("fortnight")


def test_each_resolution_is_served_by_one_stored_grain() -> None:
    assert [r.grain for r in R] == [
        Grain.FIVE_MINUTE,
        Grain.THIRTY_MINUTE,
        Grain.THIRTY_MINUTE,
        Grain.DAY,
        Grain.DAY,
        Grain.DAY,
        Grain.DAY,
    ]
    assert R.HOUR.nominal == timedelta(hours=1)
    assert R.HOUR.grain.interval == timedelta(minutes=30)
    assert R.MONTH.fixed is None
    assert timedelta(days=30) < R.MONTH.nominal < timedelta(days=31)
    assert [r.nominal for r in R] == sorted(r.nominal for r in R)


EDGES = [
    datetime(2024, 3, 1, 14, 5),
    datetime(2024, 3, 1, 15, 0),
    datetime(2024, 3, 1, 14, 35),
    datetime(2024, 2, 29, 0, 0),
    datetime(2024, 2, 29, 0, 5),
    datetime(2024, 3, 1, 0, 0),
    datetime(2024, 3, 31, 23, 55),
    datetime(2024, 4, 1, 0, 0),
    datetime(2024, 7, 1, 0, 0),
    datetime(2024, 7, 1, 0, 5),
    datetime(2024, 12, 31, 23, 30),
    datetime(2025, 1, 1, 0, 0),
    datetime(2025, 1, 1, 0, 30),
    datetime(2021, 10, 1, 4, 5),
]


@pytest.mark.parametrize("resolution", list(R))
def test_bucket_sql_matches_python_on_duckdb(resolution: Resolution) -> None:
    times = EDGES + [datetime(2019, 5, 16) + i * timedelta(minutes=5) * 997 for i in range(300)]
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT t, {bucket_end_sql(resolution, 'x.t')} FROM unnest(?) AS x(t) ORDER BY t",
            [times],
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(times)
    for t, end in rows:
        assert end == bucket_end(resolution, t), (resolution, t)


@pytest.mark.parametrize("resolution", [R.DAY, R.MONTH, R.QUARTER, R.YEAR])
def test_day_bucket_sql_puts_a_calendar_day_in_its_period(resolution: Resolution) -> None:
    days = [date(2024, 2, 29), date(2024, 3, 31), date(2024, 12, 31), date(2025, 1, 1)]
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT d, {day_bucket_end_sql(resolution, 'd')} FROM unnest(?) AS x(d) ORDER BY d",
            [days],
        ).fetchall()
    finally:
        con.close()
    for day, end in rows:
        # A calendar day holds the intervals ending 00:05 .. 24:00: bucket it by its last one.
        assert end == bucket_end(resolution, datetime.combine(day, datetime.min.time()) + DAY)


def test_bucket_sql_refuses_what_is_not_a_column_name() -> None:
    with pytest.raises(ValueError, match="not a column name"):
        bucket_end_sql(R.DAY, "t); DROP TABLE x; --")
    with pytest.raises(ValueError, match="cannot be split"):
        day_bucket_end_sql(R.HOUR, "day")
