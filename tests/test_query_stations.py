"""Stations and units: search ranking, hand-worked summaries, revenue across 2021-10-01, series."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nemdash.errors import QueryError
from nemdash.query.analysis import pivot
from nemdash.query.connection import Database
from nemdash.query.stations import (
    CAPACITY_FACTOR_BASIS,
    station_search,
    station_series,
    station_summary,
)
from query_factory import (
    DAY1,
    FIVE,
    HALF_HOUR,
    HOURS,
    Inputs,
    Unit,
    aware,
    build_store,
    market,
)

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("stations")) / "data", inputs)
    yield database
    database.close()


# -- search ---------------------------------------------------------------------------------------

SEARCH_UNITS = [
    Unit("ER01", "Eraring", "NSW1", "coal_black", 720.0),
    Unit("ER02", "Eraring", "NSW1", "coal_black", 720.0),
    Unit("ERGT01", "Eraring Gas Turbine", "NSW1", "distillate", 42.0),
    Unit("ER010", "Somewhere Solar Farm", "QLD1", "solar_utility", 10.0),
    Unit("HER01", "Hereford Wind Farm", "VIC1", "wind", 30.0),
    Unit("KEPWF1", "Kepler Wind Farm", "SA1", "wind", 50.0),
    Unit("DG_NSW1", None, "NSW1", "other", None, aggregate=True),
]


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    root = Path(tmp_path_factory.mktemp("search")) / "data"
    database = build_store(root, Inputs(units=list(SEARCH_UNITS)))
    yield database
    database.close()


def found(db: Database, query: str) -> list[tuple[str, str]]:
    table = station_search(db, query=query)
    return list(
        zip(table.column("duid").to_pylist(), table.column("match").to_pylist(), strict=True)
    )


def test_exact_duid_then_prefix_then_substring(registry_db: Database) -> None:
    hits = found(registry_db, "er01")
    assert hits[:3] == [
        ("ER01", "duid"),
        ("ER010", "prefix"),  # the DUID starts with the query
        ("HER01", "substring"),
    ]
    # Then DUIDs one character away, as fuzzy matches.
    assert hits[3:] == [("ERGT01", "similar"), ("ER02", "similar")]


def test_station_names_match_by_prefix_with_the_closest_first(registry_db: Database) -> None:
    hits = found(registry_db, "Eraring")
    # "Eraring" is the whole name of ER01/ER02, a seventh of "Eraring Gas Turbine".
    assert hits == [("ER01", "prefix"), ("ER02", "prefix"), ("ERGT01", "prefix")]
    scores = station_search(registry_db, query="Eraring").column("score").to_pylist()
    assert scores[0] == 1.0
    assert scores[2] == pytest.approx(7 / 19)


def test_a_word_of_the_name_and_a_misspelling_are_found(registry_db: Database) -> None:
    assert found(registry_db, "turbine") == [("ERGT01", "prefix")]
    # The shorter name the query covers more of comes first.
    assert found(registry_db, "wind farm") == [("KEPWF1", "substring"), ("HER01", "substring")]
    assert found(registry_db, "Kepplr") == [("KEPWF1", "similar")]
    assert found(registry_db, "erraring") == [
        ("ER01", "similar"),
        ("ER02", "similar"),
        ("ERGT01", "similar"),
    ]


def test_search_leaves_out_aggregates_and_nonsense(registry_db: Database) -> None:
    assert found(registry_db, "DG_NSW1") == []
    assert found(registry_db, "qqqqqq") == []
    assert station_search(registry_db, query="er", limit=2).num_rows == 2
    with pytest.raises(QueryError, match="search text"):
        station_search(registry_db, query="   ")


# -- summary --------------------------------------------------------------------------------------


def test_station_summary_by_hand(db: Database, inputs: Inputs) -> None:
    summary = station_summary(db, station="BAYSWATER", start=aware(DAY1), end=aware(DAY2))
    times = [t for (d, t) in inputs.scada if d == "BW01" and DAY1 < t <= DAY2]
    output = {d: [inputs.scada[d, t] for t in times] for d in ("BW01", "BW02")}
    energy = sum(sum(v) for v in output.values()) * HOURS
    revenue = sum(
        inputs.scada[d, t] * HOURS * inputs.trading["NSW1", t]
        for d in output
        for t in times
        if ("NSW1", t) in inputs.trading  # two NSW1 intervals have no price
    )
    assert summary.station_name == "Bayswater"
    assert summary.duids == ("BW01", "BW02")
    assert (summary.regionids, summary.fuels) == (("NSW1",), ("coal_black",))
    assert summary.energy_mwh == pytest.approx(energy)
    assert summary.revenue == pytest.approx(revenue)
    assert summary.average_price == pytest.approx(revenue / energy)
    assert summary.registered_capacity_mw == 1320.0
    assert summary.capacity_factor_pct == pytest.approx(100 * energy / (1320 * 24))
    assert summary.capacity_basis == CAPACITY_FACTOR_BASIS
    # Highest half-hour mean of the total: BW01 500..505 (mean 502.5) + BW02 400.
    assert summary.peak_mw == pytest.approx(902.5)
    assert "30-minute" in summary.peak_basis
    assert summary.running_hours == pytest.approx(48.0)  # two units, each running all day
    assert (summary.intervals, summary.expected_intervals, summary.completeness) == (576, 576, 1.0)
    units = {r["duid"]: r for r in summary.units.to_pylist()}
    assert units["BW01"]["energy_mwh"] == pytest.approx(sum(output["BW01"]) * HOURS)
    assert units["BW01"]["priced_intervals"] == 286


def test_unit_summary_peak_is_the_highest_five_minute_output(db: Database, inputs: Inputs) -> None:
    summary = station_summary(db, duid="hpr1", start=aware(DAY1), end=aware(DAY2))
    times = [t for (d, t) in inputs.scada if d == "HPR1" and DAY1 < t <= DAY2]
    values = [inputs.scada["HPR1", t] for t in times]
    assert summary.duids == ("HPR1",)
    assert (summary.peak_mw, summary.peak_basis) == (75.0, "highest 5-minute SCADA output")
    assert summary.energy_mwh == pytest.approx(sum(values) * HOURS)  # net of charging
    assert summary.running_hours == pytest.approx(sum(v > 0 for v in values) * HOURS)


def test_a_unit_or_station_that_is_not_there(db: Database) -> None:
    with pytest.raises(QueryError, match="station_search"):
        station_summary(db, station="Nowhere", start=aware(DAY1), end=aware(DAY2))
    with pytest.raises(QueryError, match="exactly one"):
        station_summary(db, station="Bayswater", duid="BW01", start=aware(DAY1), end=aware(DAY2))
    with pytest.raises(QueryError, match="exactly one"):
        station_series(db, start=aware(DAY1), end=aware(DAY2))


# -- revenue across five-minute settlement ---------------------------------------------------------

BOUNDARY = datetime(2021, 10, 1, 4, 5)  # the first interval settled on its own 5-minute price


def test_revenue_before_and_after_five_minute_settlement(tmp_path: Path) -> None:
    inputs = Inputs(units=[Unit("U1", "Boundary Power", "NSW1", "coal_black", 100.0)])
    start = datetime(2021, 10, 1, 3, 0)
    times = [start + (i + 1) * FIVE for i in range(24)]  # 03:05 .. 05:00
    for i, t in enumerate(times):
        inputs.scada["U1", t] = 60.0
        inputs.rrp["NSW1", t] = 1.0  # dispatch prices: never the settlement price here
        if t >= BOUNDARY:
            inputs.trading["NSW1", t] = 300.0 + i
    # Before 04:05 the trading price is half-hourly: 03:30 and 04:00.
    inputs.trading["NSW1", datetime(2021, 10, 1, 3, 30)] = 100.0
    inputs.trading["NSW1", datetime(2021, 10, 1, 4, 0)] = 200.0
    db = build_store(tmp_path / "data", inputs)
    expected = sum(
        60.0
        * HOURS
        * (
            inputs.trading["NSW1", t]
            if t >= BOUNDARY
            else (100.0 if t <= datetime(2021, 10, 1, 3, 30) else 200.0)
        )
        for t in times
    )
    assert expected == pytest.approx(
        5 * (6 * 100 + 6 * 200) + 5 * sum(300 + i for i in range(12, 24))
    )
    end = start + timedelta(hours=2)
    summary = station_summary(db, duid="U1", start=aware(start), end=aware(end))
    assert summary.energy_mwh == pytest.approx(120.0)
    assert summary.revenue == pytest.approx(expected)
    assert summary.average_price == pytest.approx(expected / 120.0)
    table = pivot(db, group_by=["duid"], start=aware(start), end=aware(end))
    assert table.column("revenue").to_pylist() == [pytest.approx(expected)]
    before = station_summary(db, duid="U1", start=aware(start), end=aware(BOUNDARY - FIVE))
    assert before.revenue == pytest.approx(5 * (6 * 100 + 6 * 200))
    db.close()


# -- series ---------------------------------------------------------------------------------------


def test_station_series_per_unit(db: Database, inputs: Inputs) -> None:
    table = station_series(
        db, station="Bayswater", start=aware(DAY1), end=aware(DAY2), max_points=48
    )
    assert table.schema.metadata[b"nemdash.resolution"] == b"30m"
    bucket = DAY1 + timedelta(hours=8)
    rows = {r["duid"]: r for r in table.to_pylist() if r["bucket_end"] == bucket}
    times = [bucket - HALF_HOUR + (i + 1) * FIVE for i in range(6)]
    bw01 = [inputs.scada["BW01", t] for t in times]
    assert rows["BW01"]["mw_mean"] == pytest.approx(statistics.fmean(bw01))
    assert (rows["BW01"]["mw_min"], rows["BW01"]["mw_max"]) == (min(bw01), max(bw01))
    assert rows["BW01"]["energy_mwh"] == pytest.approx(sum(bw01) * HOURS)
    assert rows["BW02"]["completeness"] == 1.0
    assert table.num_rows == 2 * 48
    fine = station_series(
        db, duid="BW01", start=aware(bucket - HALF_HOUR), end=aware(bucket), resolution="5m"
    )
    assert fine.column("mw_mean").to_pylist() == bw01
