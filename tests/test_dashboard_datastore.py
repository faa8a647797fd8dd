"""The dashboard's DataStore: filters, ranges, and the query-layer calls it makes.

The store is query_factory's synthetic market (two days from 2024-03-01, every value a simple
function of the interval), built through the real lake and rollups; expectations are computed
from those inputs, not from the code under test.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from nemdash.dashboard.datastore import (
    AUTO,
    RESOLUTION_CHOICES,
    RESOLUTIONS,
    DataStore,
    Runner,
    csv_bytes,
    keep_regions,
    moving_average,
    resolve_span,
    time_of_day_profile,
    wide,
)
from nemdash.errors import InvalidParameter
from nemdash.nemtime import NEM_TZ
from nemdash.query import prices
from nemdash.query.connection import Database
from nemdash.tables import REGIONS
from query_factory import DAY1, Inputs, aware, build_store, market

#: The last interval of the two-day market.
LAST = DAY1 + timedelta(days=2)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("dashboard")) / "data", inputs, cache=True)
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> DataStore:
    return DataStore(db)


# -- ranges ---------------------------------------------------------------------------------------


def test_one_day_preset_ends_at_the_half_hour_holding_the_latest_interval(db: Database) -> None:
    span = resolve_span(db, "1d")
    assert span is not None
    assert (span.start, span.end) == (aware(LAST - timedelta(days=1)), aware(LAST))


def test_all_starts_at_the_midnight_before_the_first_interval(db: Database) -> None:
    span = resolve_span(db, "all")
    assert span is not None
    assert (span.start, span.end) == (aware(DAY1), aware(LAST))
    assert "everything" in span.label


def test_custom_range_covers_both_days_whole(db: Database) -> None:
    span = resolve_span(db, "2024-03-01..2024-03-01")
    assert span is not None
    assert span.start == datetime(2024, 3, 1, tzinfo=NEM_TZ)
    assert span.end == datetime(2024, 3, 2, tzinfo=NEM_TZ)
    assert span.days == 1


@pytest.mark.parametrize("text", ["2024-03-05..2024-03-01", "2024-02-30..2024-03-01", "3d"])
def test_bad_ranges_are_refused_with_the_parameter_named(db: Database, text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        resolve_span(db, text)
    assert caught.value.parameter == "range"
    assert caught.value.value == text


def test_the_range_param_refuses_text_that_is_no_range(store: DataStore) -> None:
    with pytest.raises(ValueError, match="range"):
        store.range = "yesterday"
    store.range = "2024-03-01..2024-03-02"
    assert store.range == "2024-03-01..2024-03-02"


def test_an_empty_store_has_no_span(tmp_path: Path) -> None:
    empty = build_store(tmp_path / "empty", Inputs())
    try:
        assert resolve_span(empty, "7d") is None
        assert DataStore(empty).last_interval() is None
    finally:
        empty.close()


# -- filters --------------------------------------------------------------------------------------


def test_filters_snapshot_the_params_in_canonical_form(store: DataStore) -> None:
    store.param.update(
        price_regions=["VIC1", "NSW1"], resolution="30m", pivot_fuels=["wind"], station=" Gordon "
    )
    f = store.filters()
    assert f.price_regions == ("NSW1", "VIC1")  # region order, whatever the clicking order
    assert f.resolution == "30m"
    assert f.pivot_fuels == ("wind",)
    assert f.pivot_regions is None  # nothing chosen: every region
    assert f.station == "Gordon"
    store.resolution = AUTO
    assert store.filters().resolution is None


def test_every_resolution_has_a_label() -> None:
    assert tuple(RESOLUTION_CHOICES.values()) == RESOLUTIONS


def test_new_version_moves_the_param_once(store: DataStore) -> None:
    seen: list[int] = []
    store.param.watch(lambda e: seen.append(e.new), "version")
    store.new_version(41)
    store.new_version(41)
    assert seen == [41]


# -- query calls ----------------------------------------------------------------------------------


def test_price_series_of_all_regions_is_the_cached_table_itself(
    store: DataStore, db: Database
) -> None:
    span = store.span()
    assert span is not None
    shown = store.price_series(store.filters(), span)
    cached = prices.price_series(db, start=span.start, end=span.end)
    assert shown is cached  # shared by every session, never copied


def test_price_series_keeps_the_chosen_regions(store: DataStore, inputs: Inputs) -> None:
    store.param.update(price_regions=["SA1"], range="1d")
    span = store.span()
    assert span is not None
    table = store.price_series(store.filters(), span)
    assert set(table.column("regionid").to_pylist()) == {"SA1"}
    last = table.to_pylist()[-1]
    assert last["rrp_mean"] == inputs.rrp["SA1", LAST]


def test_demand_now_is_generation_plus_net_imports(store: DataStore, inputs: Inputs) -> None:
    span = store.today_span()
    assert span is not None
    demand = {r["regionid"]: r for r in store.demand_now(span).to_pylist()}
    # NSW1 at the last interval: its units, rooftop PV of the half hour ending then, the import
    # from VIC1 and the export to QLD1 (query_factory's flows are AEMO-signed).
    units = sum(inputs.scada[d, LAST] for d in ("BW01", "BW02", "WINDY1", "TUMUT3"))
    rooftop = inputs.rooftop["NSW1", LAST, "MEASUREMENT"]
    imports = inputs.flows["VIC1-NSW1", LAST][0]
    exports = inputs.flows["NSW1-QLD1", LAST][0]
    assert demand["NSW1"]["bucket_end"] == LAST
    assert demand["NSW1"]["demand_mw"] == pytest.approx(units + rooftop + imports - exports)


def test_station_or_unit_must_be_chosen(store: DataStore) -> None:
    span = store.span()
    assert span is not None
    with pytest.raises(InvalidParameter, match="choose a station"):
        store.station_summary(store.filters(), span)


def test_a_unit_is_shown_instead_of_its_station(store: DataStore, inputs: Inputs) -> None:
    store.param.update(station="Bayswater", duid="BW02", range="1d")
    span = store.span()
    assert span is not None
    summary = store.station_summary(store.filters(), span)
    assert summary.duids == ("BW02",)
    expected = sum(
        v for (d, t), v in inputs.scada.items() if d == "BW02" and t > LAST - timedelta(days=1)
    )
    assert summary.energy_mwh == pytest.approx(expected * 5 / 60)


def test_station_time_of_day_sums_the_units_then_averages_the_days(store: DataStore) -> None:
    store.param.update(station="Bayswater", duid="", range="all")
    span = store.span()
    assert span is not None
    profile = store.station_time_of_day(store.filters(), span)
    assert profile.num_rows == 48
    assert profile.column("minute_of_day").to_pylist() == list(range(30, 1441, 30))
    # BW01 = 500 + (i % 6) (mean 502.5 over any half hour), BW02 = 400.
    assert np.allclose(profile.column("mw").to_numpy(), 902.5)
    assert profile.column("time_of_day")[-1].as_py() == "24:00"


# -- helpers --------------------------------------------------------------------------------------


def test_wide_fills_absent_series_with_zeros_and_sorts_time() -> None:
    t1, t2 = datetime(2024, 1, 1, 0, 5), datetime(2024, 1, 1, 0, 10)
    table = pa.table(
        {"bucket_end": [t2, t1, t1], "series": ["wind", "wind", "hydro"], "mw": [3.0, 1.0, 2.0]}
    )
    data = wide(
        table, index="bucket_end", columns="series", values="mw", names=["hydro", "wind", "imports"]
    )
    assert list(data["bucket_end"]) == [np.datetime64(t1), np.datetime64(t2)]
    assert list(data["wind"]) == [1.0, 3.0]
    assert list(data["hydro"]) == [2.0, 0.0]
    assert list(data["imports"]) == [0.0, 0.0]


def test_moving_average_is_trailing() -> None:
    assert list(moving_average(np.array([1.0, 2.0, 3.0, 4.0]), 2)) == [1.0, 1.5, 2.5, 3.5]
    values = np.array([5.0, 7.0])
    assert moving_average(values, 1) is values


def test_time_of_day_profile_is_period_ending() -> None:
    stamps = [datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 2, 0, 0), datetime(2024, 1, 2, 0, 30)]
    series = pa.table(
        {
            "bucket_end": stamps * 2,
            "duid": ["A"] * 3 + ["B"] * 3,
            "mw_mean": [10.0, 20.0, 30.0, 1.0, 2.0, 3.0],
        }
    )
    rows = time_of_day_profile(series).to_pylist()
    assert rows == [
        {"minute_of_day": 30, "time_of_day": "00:30", "mw": 22.0, "buckets": 2},
        {"minute_of_day": 1440, "time_of_day": "24:00", "mw": 22.0, "buckets": 1},
    ]


def test_keep_regions_filters_without_touching_the_table() -> None:
    table = pa.table({"regionid": list(REGIONS), "rrp": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert keep_regions(table, REGIONS) is table
    assert keep_regions(table, ("TAS1",)).column("rrp").to_pylist() == [4.0]
    assert table.num_rows == 5


def test_csv_has_units_nem_time_and_the_synthetic_line() -> None:
    table = pa.table(
        {
            "bucket_end": pa.array([datetime(2024, 3, 1, 0, 5)], pa.timestamp("us")),
            "rrp_mean": [1.5],
        }
    )
    text = csv_bytes(table, synthetic=True).getvalue().decode()
    lines = text.splitlines()
    assert lines[0] == "# synthetic demo data"
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    assert rows[0] == ["bucket_end", "rrp_mean_aud_per_mwh"]
    assert rows[1] == ["2024-03-01T00:05:00+10:00", "1.5"]
    assert not csv_bytes(table, synthetic=False).getvalue().startswith(b"#")


def test_the_inline_runner_applies_the_outcome_at_once() -> None:
    outcomes = []
    runner = Runner()
    runner.submit(lambda: 1 / 1, outcomes.append)
    runner.submit(lambda: 1 / 0, outcomes.append)
    assert outcomes[0].value == 1.0
    assert isinstance(outcomes[1].error, ZeroDivisionError)
