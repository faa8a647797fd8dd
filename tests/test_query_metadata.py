"""Query plumbing and metadata: ranges, rollup windows, series plans, coverage, regions, fuels."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nemdash import nemtime
from nemdash.errors import QueryError
from nemdash.query import analysis, generation, interconnectors, metadata, prices, stations
from nemdash.query.cache import CachedFunction
from nemdash.query.connection import Database
from nemdash.query.metadata import (
    ALL_FUELS,
    Piece,
    check_fuels,
    check_range,
    check_region,
    check_regions,
    coverage_and_freshness,
    fuels,
    plan_series,
    plan_window,
    regions,
)
from nemdash.query.resolution import Resolution
from nemdash.store.rollup_specs import ROLLUP_TABLES
from nemdash.tables import REGIONS, TABLES
from query_factory import DAY1, Inputs, aware, build_store, market

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("metadata")) / "data", market(1))
    yield database
    database.close()


# -- parameters -----------------------------------------------------------------------------------


def test_ranges_are_converted_to_nem_time_and_naive_ones_refused() -> None:
    utc = datetime(2024, 2, 29, 14, 0, tzinfo=UTC)  # 2024-03-01 00:00 in NEM time
    assert check_range(utc, utc + HOUR) == (DAY1, DAY1 + HOUR)
    with pytest.raises(QueryError, match="no time zone"):
        check_range(DAY1, aware(DAY1 + HOUR))
    with pytest.raises(QueryError, match="range is empty"):
        check_range(aware(DAY1), aware(DAY1))


def test_regions_and_fuels_are_checked() -> None:
    assert check_region("nem") == "NEM"
    assert check_regions(None) == REGIONS
    assert check_regions("sa1") == ("SA1",)
    with pytest.raises(QueryError, match=r"TASN is a rooftop PV sub-region, part of TAS1"):
        check_region("TASN")
    with pytest.raises(QueryError, match=r"use one of NSW1, QLD1, SA1, TAS1, VIC1$"):
        check_region("NEM", allow_nem=False)
    assert check_fuels(["Wind", "coal_black", "wind"]) == ("coal_black", "wind")
    assert check_fuels(None) is None
    with pytest.raises(QueryError, match="rooftop_solar"):
        check_fuels(["solar"])


# -- windows and plans ----------------------------------------------------------------------------


def test_a_window_is_widened_to_half_hours_and_split_by_grain() -> None:
    start, end = DAY1 + timedelta(hours=20, minutes=10), DAY1 + 3 * DAY + timedelta(minutes=35)
    window = plan_window(aware(start), aware(end))
    assert (window.start, window.end) == (DAY1 + timedelta(hours=20), DAY1 + 3 * DAY + HOUR)
    assert window.pieces == (
        Piece("30m", DAY1 + timedelta(hours=20), DAY1 + DAY),
        Piece("day", DAY1 + DAY, DAY1 + 3 * DAY),
        Piece("30m", DAY1 + 3 * DAY, DAY1 + 3 * DAY + HOUR),
    )
    assert window.intervals == 12 * (4 + 48 + 1)


def test_short_and_aligned_windows() -> None:
    short = plan_window(aware(DAY1 + timedelta(minutes=5)), aware(DAY1 + timedelta(minutes=10)))
    assert short.pieces == (Piece("30m", DAY1, DAY1 + timedelta(minutes=30)),)
    days = plan_window(aware(DAY1), aware(DAY1 + 2 * DAY))
    assert days.pieces == (Piece("day", DAY1, DAY1 + 2 * DAY),)


def test_series_plans_take_edge_buckets_whole() -> None:
    start, end = DAY1 + timedelta(hours=10, minutes=10), DAY1 + 40 * DAY
    plan = plan_series(aware(start), aware(end), "day", 100)
    assert (plan.low, plan.high, plan.points) == (DAY1, DAY1 + 40 * DAY, 40)
    month = plan_series(aware(start), aware(end), Resolution.MONTH, 100)
    assert (month.low, month.high) == (DAY1, datetime(2024, 5, 1))
    assert month.seconds_sql("b") == "(epoch(b) - epoch(b - INTERVAL 1 MONTH))"
    fine = plan_series(aware(start), aware(start + HOUR), None, 2048)
    assert (fine.resolution, fine.low, fine.high) == (Resolution.FIVE_MINUTES, start, start + HOUR)


# -- metadata -------------------------------------------------------------------------------------


def test_coverage_and_freshness_from_the_manifest(db: Database) -> None:
    now = aware(DAY1 + 2 * DAY)
    table = coverage_and_freshness(db, now=now)
    rows = {r["table"]: r for r in table.to_pylist()}
    assert set(rows) == {*TABLES, *ROLLUP_TABLES, "duid_registry"}
    price = rows["dispatch_price"]
    # 288 intervals x 5 regions, less NSW1's two missing, plus 6 x 5 intervention rows.
    assert price["rows"] == 288 * 5 - 2 + 6 * 5
    assert (price["first_interval"], price["last_interval"]) == (
        DAY1 + timedelta(minutes=5),
        DAY1 + DAY,
    )
    assert price["lag_minutes"] == 24 * 60
    assert rows["rooftop_pv"]["first_interval"] == DAY1 + timedelta(minutes=30)
    assert rows["price_day"]["last_interval"] == DAY1 + DAY
    assert rows["duid_registry"]["rows"] == 11
    assert rows["duid_registry"]["last_interval"] is None
    assert {r["store_version"] for r in rows.values()} == {db.lake.version()}
    assert table.schema.metadata[b"nemdash.now"] == nemtime.isoformat(now).encode()
    with pytest.raises(QueryError, match="aware"):
        coverage_and_freshness(db, now=DAY1)


def test_coverage_of_an_empty_store(tmp_path: Path) -> None:
    db = build_store(tmp_path / "data", Inputs())
    rows = coverage_and_freshness(db).to_pylist()
    assert {r["rows"] for r in rows} == {0}
    assert {r["last_interval"] for r in rows} == {None}
    db.close()


def test_regions_and_fuels_lists(db: Database) -> None:
    assert regions(db).column("regionid").to_pylist() == list(REGIONS)
    assert regions(db).column("rooftop_subregions").to_pylist()[1] == ["QLDC", "QLDN", "QLDS"]
    table = fuels(db)
    rows = {r["fuel"]: r for r in table.to_pylist()}
    assert list(rows) == list(ALL_FUELS)
    assert (rows["coal_black"]["units"], rows["coal_black"]["registered_capacity_mw"]) == (
        2,
        1320.0,
    )
    assert rows["other"]["units"] == 0  # DG_NSW1 is an aggregate, not a unit
    assert rows["pumped_hydro"]["renewable"]
    assert not rows["battery"]["renewable"]
    assert rows["battery"]["storage"]
    assert rows["rooftop_solar"]["renewable"]


def is_query_function(fn: object) -> bool:
    """``fn(db, *, ...)``: the Database, then keyword-only parameters."""
    inner = fn.uncached if isinstance(fn, CachedFunction) else fn
    if not inspect.isfunction(inner):
        return False
    params = list(inspect.signature(inner).parameters.values())
    return params[0].name == "db" and all(p.kind is p.KEYWORD_ONLY for p in params[1:])


def test_every_query_function_is_cached_except_the_clock_and_static_ones() -> None:
    modules = (prices, generation, interconnectors, stations, analysis, metadata)
    public = {
        name: getattr(module, name)
        for module in modules
        for name in module.__all__
        if is_query_function(getattr(module, name))
    }
    uncached = {name for name, fn in public.items() if not isinstance(fn, CachedFunction)}
    assert uncached == {"coverage_and_freshness", "regions"}
    assert len(public) >= 18
