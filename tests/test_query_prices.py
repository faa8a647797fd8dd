"""Price queries, checked against values computed by hand from the inputs of a synthetic store.

The store (``query_factory.market``) is published through the real lake and the real rollups and
read by a real DuckDB. Expected values are computed here from the input dictionaries, never read
back from the code under test.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemdash import nemtime
from nemdash.errors import QueryError
from nemdash.query.connection import Database
from nemdash.query.prices import (
    high_price_events,
    latest_prices,
    price_bands,
    price_series,
    price_stats,
    price_time_of_day,
)
from nemdash.query.resolution import Resolution, bucket_end, bucket_ends
from nemdash.tables import REGIONS
from query_factory import (
    DAY1,
    FIVE,
    HALF_HOUR,
    HOURS,
    INTERVENTION_PRICE,
    MISSING_NSW1,
    Inputs,
    aware,
    build_store,
    market,
    nsw_price,
)

DAY = timedelta(days=1)
DAY2 = DAY1 + DAY
#: The intervals with a market price in the store, per region (market(2) below).
PRICED = {
    region: [
        t
        for t in (DAY1 + (i + 1) * FIVE for i in range(2 * 288))
        if region != "NSW1" or t not in MISSING_NSW1
    ]
    for region in REGIONS
}


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("prices")) / "data", inputs)
    yield database
    database.close()


def prices_in(inputs: Inputs, region: str, low: datetime, high: datetime) -> list[float]:
    """Market prices of ``region`` for the intervals ending in ``(low, high]``."""
    return [v for (r, t), v in sorted(inputs.rrp.items()) if r == region and low < t <= high]


def rows_by(table: pa.Table, *keys: str) -> dict[tuple[object, ...], dict[str, object]]:
    return {tuple(r[k] for k in keys): r for r in table.to_pylist()}


# -- series ---------------------------------------------------------------------------------------


def test_thirty_minute_means_are_the_mean_of_the_six_intervals(
    db: Database, inputs: Inputs
) -> None:
    table = price_series(db, start=aware(DAY1), end=aware(DAY2), resolution="30m")
    assert table.schema.metadata[b"nemdash.resolution"] == b"30m"
    rows = rows_by(table, "bucket_end", "regionid")
    assert len(rows) == 48 * 5
    for (end, region), row in rows.items():
        assert isinstance(end, datetime)
        values = prices_in(inputs, str(region), end - HALF_HOUR, end)
        assert row["rrp_mean"] == pytest.approx(sum(values) / len(values))  # not sum, not sum/2
        assert (row["rrp_min"], row["rrp_max"]) == (min(values), max(values))
        assert row["intervals"] == len(values)
        assert row["completeness"] == pytest.approx(len(values) / 6)
    # The intervention run's prices never show.
    assert max(r["rrp_max"] for r in rows.values()) < INTERVENTION_PRICE


def test_a_bucket_with_missing_intervals_is_flagged_partial(db: Database, inputs: Inputs) -> None:
    table = price_series(db, regions=["NSW1"], start=aware(DAY1), end=aware(DAY2), max_points=48)
    partial = [r for r in table.to_pylist() if r["completeness"] < 1]
    bucket = DAY1 + timedelta(hours=14)  # holds 13:35 and 13:40, both missing
    assert [(r["bucket_end"], r["intervals"]) for r in partial] == [(bucket, 4)]
    assert partial[0]["completeness"] == pytest.approx(4 / 6)
    kept = [nsw_price(i) for i in range(162, 168) if DAY1 + (i + 1) * FIVE not in MISSING_NSW1]
    assert partial[0]["rrp_mean"] == pytest.approx(sum(kept) / 4)


def test_five_minute_series_is_exactly_the_period_ending_range(
    db: Database, inputs: Inputs
) -> None:
    start, end = DAY1 + timedelta(hours=10), DAY1 + timedelta(hours=11)
    table = price_series(db, regions="SA1", start=aware(start), end=aware(end))
    assert table.schema.metadata[b"nemdash.resolution"] == b"5m"
    times = table.column("bucket_end").to_pylist()
    # (10:00, 11:00]: 10:05 .. 11:00, twelve intervals; 10:00 belongs to the hour before.
    assert times == [start + (i + 1) * FIVE for i in range(12)]
    assert table.column("rrp_mean").to_pylist() == prices_in(inputs, "SA1", start, end)
    assert set(table.column("completeness").to_pylist()) == {1.0}


def test_hourly_buckets_divide_summed_sums_by_summed_counts(db: Database, inputs: Inputs) -> None:
    table = price_series(db, regions=["NSW1"], start=aware(DAY1), end=aware(DAY2), resolution="1h")
    rows = rows_by(table, "bucket_end")
    hour = DAY1 + timedelta(hours=14)  # 13:05 .. 14:00: 6 + 4 intervals
    values = prices_in(inputs, "NSW1", hour - timedelta(hours=1), hour)
    assert len(values) == 10
    assert rows[hour,]["rrp_mean"] == pytest.approx(sum(values) / 10)
    # The average of the two half-hour means would be a different, wrong number.
    halves = [values[:6], values[6:]]
    assert rows[hour,]["rrp_mean"] != pytest.approx(sum(sum(h) / len(h) for h in halves) / 2)
    assert rows[hour,]["completeness"] == pytest.approx(10 / 12)


def test_daily_and_monthly_buckets(db: Database, inputs: Inputs) -> None:
    days = price_series(db, start=aware(DAY1), end=aware(DAY1 + 2 * DAY), resolution="day")
    rows = rows_by(days, "bucket_end", "regionid")
    nsw = prices_in(inputs, "NSW1", DAY1, DAY2)
    assert rows[DAY2, "NSW1"]["rrp_mean"] == pytest.approx(sum(nsw) / len(nsw))
    assert rows[DAY2, "NSW1"]["completeness"] == pytest.approx(286 / 288)
    assert rows[DAY2 + DAY, "QLD1"]["rrp_mean"] == pytest.approx(51.0)  # the second day's price
    month = price_series(db, start=aware(DAY1), end=aware(DAY1 + 2 * DAY), resolution="month")
    qld = rows_by(month, "regionid")["QLD1",]
    assert qld["bucket_end"] == datetime(2024, 4, 1)
    assert qld["rrp_mean"] == pytest.approx(50.5)
    assert qld["completeness"] == pytest.approx(2 * 288 / (31 * 288))  # March has 31 days


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    offset=st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
    # Mostly ranges that meet the two days of data, some long ones; any minute, on or off the grid.
    length=st.one_of(
        st.integers(min_value=1, max_value=4 * 24 * 60),
        st.integers(min_value=1, max_value=400 * 24 * 60),
    ),
    max_points=st.integers(min_value=1, max_value=3000),
    region=st.sampled_from(REGIONS),
)
def test_the_point_budget_is_never_exceeded(
    db: Database, offset: int, length: int, max_points: int, region: str
) -> None:
    start = DAY1 + timedelta(minutes=offset)
    end = start + timedelta(minutes=length)
    try:
        table = price_series(
            db, regions=[region], start=aware(start), end=aware(end), max_points=max_points
        )
    except QueryError:
        # Only when even yearly points do not fit the budget.
        assert max_points < 3
        return
    assert table.num_rows <= max_points
    resolution = Resolution(table.schema.metadata[b"nemdash.resolution"].decode())
    allowed = set(bucket_ends(start, end, resolution))
    # Exactly the buckets that hold an interval of the range and have data (taken whole: at a
    # rollup resolution the data may lie outside the range, in the same bucket).
    with_data = {bucket_end(resolution, t) for t in PRICED[region]} & allowed
    assert set(table.column("bucket_end").to_pylist()) == with_data


@pytest.mark.parametrize("resolution", ["5m", "30m", "1h", "day"])
def test_ranges_off_the_five_minute_grid(db: Database, resolution: str) -> None:
    # (10:02, 10:33 next day]: the first interval ends 10:05, the last 10:30.
    start = DAY1 + timedelta(hours=10, minutes=2)
    end = DAY2 + timedelta(hours=10, minutes=33)
    table = price_series(
        db, regions="TAS1", start=aware(start), end=aware(end), resolution=resolution
    )
    res = Resolution(resolution)
    expected = sorted({bucket_end(res, t) for t in PRICED["TAS1"] if start < t <= end})
    assert table.column("bucket_end").to_pylist() == expected
    assert expected[-1] == bucket_end(res, DAY2 + timedelta(hours=10, minutes=30))


# -- statistics -----------------------------------------------------------------------------------


def test_price_statistics_by_hand(db: Database, inputs: Inputs) -> None:
    table = price_stats(db, start=aware(DAY1), end=aware(DAY2))
    rows = rows_by(table, "regionid")
    assert [r[0] for r in rows] == list(REGIONS)
    for region in REGIONS:
        values = prices_in(inputs, region, DAY1, DAY2)
        row = rows[region,]
        assert row["intervals"] == len(values)
        assert row["expected_intervals"] == 288
        assert row["rrp_mean"] == pytest.approx(statistics.fmean(values))
        assert (row["rrp_min"], row["rrp_max"]) == (min(values), max(values))
        assert row["rrp_std"] == pytest.approx(statistics.pstdev(values), abs=1e-6)
        assert row["negative_intervals"] == sum(v < 0 for v in values)
        assert row["above_300_intervals"] == sum(v > 300 for v in values)
        assert row["above_1000_intervals"] == sum(v > 1000 for v in values)
        priced = [
            (v, inputs.demand[region, t])
            for (r, t), v in inputs.rrp.items()
            if r == region and DAY1 < t <= DAY2
        ]
        load_weighted = sum(v * d for v, d in priced) / sum(d for _, d in priced)
        assert row["load_weighted_rrp"] == pytest.approx(load_weighted)
    assert rows["NSW1",]["completeness"] == pytest.approx(286 / 288)


def test_generation_weighted_price_is_revenue_over_energy(db: Database, inputs: Inputs) -> None:
    # SA1: a battery (its generating part counts), a solar farm and satellite rooftop PV.
    revenue = energy = 0.0
    for (duid, t), mw in inputs.scada.items():
        if duid in ("HPR1", "SUNNY1") and DAY1 < t <= DAY2:
            generating = max(mw, 0.0)
            revenue += generating * HOURS * inputs.trading["SA1", t]
            energy += generating * HOURS
    for (region, t, _), mw in inputs.rooftop.items():
        if region == "SA1" and DAY1 < t <= DAY2:
            half_hour = prices_in(inputs, "SA1", t - HALF_HOUR, t)
            revenue += mw * 0.5 * sum(half_hour) / len(half_hour)
            energy += mw * 0.5
    row = rows_by(price_stats(db, regions=["SA1"], start=aware(DAY1), end=aware(DAY2)), "regionid")
    assert row["SA1",]["generation_weighted_rrp"] == pytest.approx(revenue / energy)
    # The time-weighted price is a different thing: 40 $/MWh flat.
    assert row["SA1",]["rrp_mean"] == pytest.approx(40.0)


def test_statistics_widen_a_ragged_range_to_whole_half_hours(db: Database, inputs: Inputs) -> None:
    start, end = DAY1 + timedelta(hours=10, minutes=10), DAY1 + timedelta(hours=11, minutes=50)
    table = price_stats(db, regions="VIC1", start=aware(start), end=aware(end))
    low, high = DAY1 + timedelta(hours=10), DAY1 + timedelta(hours=12)
    assert table.schema.metadata[b"nemdash.start"] == nemtime.isoformat(low).encode()
    assert table.schema.metadata[b"nemdash.end"] == nemtime.isoformat(high).encode()
    values = prices_in(inputs, "VIC1", low, high)
    assert table.column("intervals").to_pylist() == [24]
    assert table.column("rrp_mean")[0].as_py() == pytest.approx(statistics.fmean(values))


def test_statistics_over_days_and_ragged_ends_match_the_five_minute_data(
    db: Database, inputs: Inputs
) -> None:
    # 30-minute pieces at both ends, a daily piece in between.
    start, end = DAY1 + timedelta(hours=20), DAY2 + DAY + timedelta(hours=-3)
    table = price_stats(db, regions=["NSW1", "QLD1"], start=aware(start), end=aware(end))
    for row in table.to_pylist():
        values = prices_in(inputs, row["regionid"], start, end)
        assert row["intervals"] == len(values)
        assert row["rrp_mean"] == pytest.approx(statistics.fmean(values))
        assert row["rrp_std"] == pytest.approx(statistics.pstdev(values), abs=1e-6)


# -- bands ----------------------------------------------------------------------------------------


def test_bands_cover_all_the_time_and_add_up_to_the_mean(db: Database, inputs: Inputs) -> None:
    table = price_bands(db, start=aware(DAY1), end=aware(DAY2))
    assert table.num_rows == 4 * 5
    for region in REGIONS:
        values = prices_in(inputs, region, DAY1, DAY2)
        rows = [r for r in table.to_pylist() if r["regionid"] == region]
        assert [r["band"] for r in rows] == ["below_0", "0_to_300", "300_to_1000", "above_1000"]
        assert sum(r["time_share_pct"] for r in rows) == pytest.approx(100.0)
        assert sum(r["contribution"] for r in rows) == pytest.approx(statistics.fmean(values))
    nsw = {r["band"]: r for r in table.to_pylist() if r["regionid"] == "NSW1"}
    # NSW1 runs -50, -45 ... 1385: 0 and 300 fall in 0-300, 1000 in 300-1000.
    values = prices_in(inputs, "NSW1", DAY1, DAY2)
    bands = {
        "below_0": [v for v in values if v < 0],
        "0_to_300": [v for v in values if 0 <= v <= 300],
        "300_to_1000": [v for v in values if 300 < v <= 1000],
        "above_1000": [v for v in values if v > 1000],
    }
    assert [len(b) for b in bands.values()] == [10, 61, 138, 77]
    for band, members in bands.items():
        assert nsw[band]["intervals"] == len(members)
        assert nsw[band]["rrp_mean"] == pytest.approx(statistics.fmean(members))
        assert nsw[band]["time_share_pct"] == pytest.approx(100 * len(members) / len(values))
    qld = {r["band"]: r for r in table.to_pylist() if r["regionid"] == "QLD1"}
    assert qld["above_1000"]["rrp_mean"] is None
    assert qld["above_1000"]["contribution"] == 0.0


# -- time of day ----------------------------------------------------------------------------------


def test_time_of_day_is_period_ending_and_averages_every_day(db: Database) -> None:
    table = price_time_of_day(db, start=aware(DAY1), end=aware(DAY1 + 2 * DAY))
    rows = rows_by(table, "regionid", "minute_of_day")
    assert [m for (r, m) in rows if r == "QLD1"] == list(range(30, 1441, 30))
    assert rows["QLD1", 30]["time_of_day"] == "00:30"
    assert rows["QLD1", 1440]["time_of_day"] == "24:00"
    assert rows["QLD1", 30]["rrp_mean"] == pytest.approx(50.5)  # 50 on day one, 51 on day two
    assert rows["QLD1", 30]["intervals"] == 12
    # NSW1's half hour ending 00:30 holds its intervals 0..5 on both days.
    assert rows["NSW1", 30]["rrp_mean"] == pytest.approx(statistics.fmean(map(nsw_price, range(6))))
    fine = price_time_of_day(
        db, regions="NSW1", start=aware(DAY1), end=aware(DAY1 + 2 * DAY), step_minutes=5
    )
    by_minute = rows_by(fine, "minute_of_day")
    assert len(by_minute) == 288
    assert by_minute[13 * 60 + 35,]["intervals"] == 1  # missing on the first day
    assert by_minute[5,]["rrp_mean"] == nsw_price(0)
    assert (by_minute[1440,]["time_of_day"], by_minute[1440,]["rrp_mean"]) == ("24:00", 1385.0)


def test_time_of_day_step_must_be_5_or_30(db: Database) -> None:
    with pytest.raises(QueryError, match="step_minutes must be 5 or 30"):
        price_time_of_day(db, start=aware(DAY1), end=aware(DAY2), step_minutes=15)


# -- high-price events ----------------------------------------------------------------------------


def test_high_price_events_are_runs_of_consecutive_intervals(db: Database) -> None:
    table = high_price_events(db, start=aware(DAY1), end=aware(DAY1 + 2 * DAY), threshold=1000)
    events = table.to_pylist()
    # NSW1 exceeds 1,000 from its interval 211 (1,005) to 287 (1,385) each day.
    assert [e["regionid"] for e in events] == ["NSW1", "NSW1"]
    first = events[0]
    assert first["event_start"] == DAY1 + 211 * FIVE
    assert first["event_end"] == DAY2
    assert (first["intervals"], first["duration_minutes"]) == (77, 385)
    assert (first["peak_rrp"], first["peak_interval_end"]) == (1385.0, DAY2)
    assert first["mean_rrp"] == pytest.approx((1005 + 1385) / 2)
    assert events[1]["event_start"] == DAY2 + 211 * FIVE


def test_a_missing_interval_breaks_an_event(db: Database) -> None:
    table = high_price_events(db, regions="NSW1", start=aware(DAY1), end=aware(DAY2))
    events = [(e["event_start"], e["event_end"], e["intervals"]) for e in table.to_pylist()]
    # Above 300 from interval 71; 13:35 and 13:40 (intervals 162 and 163) are missing.
    assert events == [
        (DAY1 + 71 * FIVE, MISSING_NSW1[0] - FIVE, 91),
        (MISSING_NSW1[1], DAY2, 124),
    ]
    longer = high_price_events(
        db, regions="NSW1", start=aware(DAY1), end=aware(DAY2), min_intervals=100
    )
    assert longer.column("intervals").to_pylist() == [124]


def test_intervention_prices_make_no_events(db: Database) -> None:
    table = high_price_events(db, start=aware(DAY1), end=aware(DAY2), threshold=5000)
    assert table.num_rows == 0


# -- latest ---------------------------------------------------------------------------------------


def test_latest_prices_with_their_hour_and_day_averages(db: Database, inputs: Inputs) -> None:
    at = DAY1 + timedelta(hours=12)
    table = latest_prices(db, intervals=3, at=aware(at))
    rows = [r for r in table.to_pylist() if r["regionid"] == "NSW1"]
    assert [r["interval_end"] for r in rows] == [at - 2 * FIVE, at - FIVE, at]
    assert [r["rrp"] for r in rows] == [nsw_price(i) for i in (141, 142, 143)]
    last_hour = prices_in(inputs, "NSW1", at - timedelta(hours=1), at)
    assert rows[0]["rrp_avg_1h"] == pytest.approx(statistics.fmean(last_hour))
    assert rows[0]["intervals_1h"] == 12
    since_start = prices_in(inputs, "NSW1", at - DAY, at)
    assert rows[0]["rrp_avg_24h"] == pytest.approx(statistics.fmean(since_start))
    assert rows[0]["intervals_24h"] == 144
    assert all(r["above_300"] and not r["negative"] for r in rows)
    sa = [r for r in table.to_pylist() if r["regionid"] == "SA1"]
    assert [r["negative"] for r in sa] == [rrp < 0 for rrp in (r["rrp"] for r in sa)]


def test_latest_prices_default_to_the_latest_interval_in_the_store(db: Database) -> None:
    table = latest_prices(db, regions=["TAS1"])
    assert table.column("interval_end").to_pylist()[-1] == DAY1 + 2 * DAY
    assert table.num_rows == 12


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": DAY1, "end": DAY2}, "has no time zone"),
        ({"start": aware(DAY2), "end": aware(DAY1)}, "the range is empty"),
        ({"start": aware(DAY1), "end": aware(DAY2), "regions": ["QLDC"]}, "sub-region"),
        ({"start": aware(DAY1), "end": aware(DAY2), "regions": ["NEM"]}, "unknown region"),
        ({"start": aware(DAY1), "end": aware(DAY2), "regions": []}, "no region given"),
        ({"start": aware(DAY1), "end": aware(DAY2), "resolution": "weekly"}, "unknown resolution"),
        ({"start": aware(DAY1), "end": aware(DAY2), "max_points": 0}, "max_points"),
        (
            {"start": aware(DAY1), "end": aware(DAY1 + 800 * DAY), "resolution": "5m"},
            "more than the limit",
        ),
    ],
)
def test_bad_parameters_are_refused_with_what_is_allowed(
    db: Database, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        price_series(db, **kwargs)  # type: ignore[arg-type]


def test_regions_are_case_insensitive_and_deduplicated(db: Database) -> None:
    table = price_series(
        db, regions=["vic1", "VIC1", "nsw1"], start=aware(DAY1), end=aware(DAY2), max_points=1
    )
    assert table.column("regionid").to_pylist() == ["NSW1", "VIC1"]
    assert not math.isnan(table.column("rrp_mean")[0].as_py())
