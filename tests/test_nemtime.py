from datetime import datetime, timedelta

import pytest

from nemdash import nemtime


def test_boundary_timestamp_is_its_own_interval_end() -> None:
    assert nemtime.interval_ending(datetime(2024, 1, 1, 14, 5)) == datetime(2024, 1, 1, 14, 5)
    assert nemtime.interval_ending(datetime(2024, 1, 1, 14, 5, 1)) == datetime(2024, 1, 1, 14, 10)


def test_one_day_has_288_intervals_from_0005_to_midnight() -> None:
    day = list(nemtime.intervals(datetime(2024, 1, 1), datetime(2024, 1, 2)))
    assert len(day) == 288
    assert day[0] == datetime(2024, 1, 1, 0, 5)
    assert day[-1] == datetime(2024, 1, 2, 0, 0)


def test_market_day_runs_0405_to_0400() -> None:
    assert nemtime.market_day(datetime(2024, 1, 2, 4, 0)) == datetime(2024, 1, 1).date()
    assert nemtime.market_day(datetime(2024, 1, 2, 4, 5)) == datetime(2024, 1, 2).date()


def test_calendar_day_puts_midnight_in_the_day_before() -> None:
    assert nemtime.calendar_day(datetime(2024, 1, 2, 0, 0)) == datetime(2024, 1, 1).date()


def test_naive_values_are_never_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        nemtime.to_naive(datetime(2024, 1, 1))
    aware = datetime(2024, 1, 1, 4, 0, tzinfo=nemtime.UTC)
    assert nemtime.to_naive(aware) == datetime(2024, 1, 1, 14, 0)


def test_isoformat_has_plus_ten_offset() -> None:
    assert nemtime.isoformat(datetime(2025, 12, 27, 0, 5)) == "2025-12-27T00:05:00+10:00"


def test_user_dates_cover_whole_days() -> None:
    start = nemtime.parse_user_time("2024-03-01")
    end = nemtime.parse_user_time("2024-03-01", end_of_day=True)
    assert end - start == timedelta(days=1)
    assert start.utcoffset() == timedelta(hours=10)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        nemtime.parse_user_time("yesterday")


def test_aemo_timestamps_parse_with_or_without_quotes() -> None:
    assert nemtime.parse_aemo('"2025/12/27 00:05:00"') == datetime(2025, 12, 27, 0, 5)
    with pytest.raises(ValueError, match="AEMO timestamp"):
        nemtime.parse_aemo("2025-12-27 00:05")
