"""Rollups: 30-minute and daily aggregates in the lake, checked against values worked by hand.

Everything runs on a real lake (Parquet files, SQLite manifest) and real DuckDB: small synthetic
tables built from the specs, and AEMO's own files from ``../shared/fixtures`` ingested through the
normal path. Expected values are computed in the test from the inputs, never read back from the
code under test.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemdash.config import DataPaths, Settings
from nemdash.errors import StoreError
from nemdash.nemweb.registry_sources import read_registration_list
from nemdash.query.connection import Database
from nemdash.store.ingest import ingest_paths
from nemdash.store.keys import sort_unique
from nemdash.store.lake import Lake, LakeWriter
from nemdash.store.registry import REGISTRY_SCHEMA, REGISTRY_TABLE, build_registry
from nemdash.store.rollup_specs import ROLLUP_TABLES, rollup_spec
from nemdash.store.rollups import (
    BASE_VERSION_KEY,
    TABLES_KEY,
    bucket_end,
    built_tables,
    missing_tables,
    rebuild_registry_rollups,
    rebuild_rollups,
    update_rollups,
)
from nemdash.tables import (
    DISPATCH_PRICE,
    DISPATCH_REGIONSUM,
    INTERCONNECTOR_FLOW,
    ROOFTOP_PV,
    TRADING_PRICE,
    UNIT_SCADA,
    TableSpec,
)
from query_factory import as_before_fuel_5m

FIVE = timedelta(minutes=5)
HOURS = 5 / 60

# -- helpers ---------------------------------------------------------------------------------------


def rows_of(spec: TableSpec, rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """An Arrow table with the spec's schema; columns not given are NULL."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=spec.arrow_schema)


def price(t: datetime, region: str, rrp: float | None, intervention: int = 0) -> dict[str, object]:
    return {
        "settlementdate": t,
        "runno": 1,
        "regionid": region,
        "dispatchinterval": int(t.timestamp()) // 300,
        "intervention": intervention,
        "rrp": rrp,
    }


def demand(t: datetime, region: str, mw: float, intervention: int = 0) -> dict[str, object]:
    return {
        "settlementdate": t,
        "runno": 1,
        "regionid": region,
        "dispatchinterval": int(t.timestamp()) // 300,
        "intervention": intervention,
        "totaldemand": mw,
    }


def scada(t: datetime, duid: str, mw: float | None) -> dict[str, object]:
    return {"settlementdate": t, "duid": duid, "scadavalue": mw}


def trading(t: datetime, region: str, rrp: float) -> dict[str, object]:
    return {"settlementdate": t, "runno": 1, "regionid": region, "periodid": 1, "rrp": rrp}


def rooftop(t: datetime, region: str, power: float, kind: str = "MEASUREMENT") -> dict[str, object]:
    return {"interval_datetime": t, "regionid": region, "power": power, "qi": 1.0, "type": kind}


def flow(
    t: datetime, ic: str, metered: float, target: float, intervention: int = 0, **limits: float
) -> dict[str, object]:
    return {
        "settlementdate": t,
        "runno": 1,
        "interconnectorid": ic,
        "dispatchinterval": int(t.timestamp()) // 300,
        "intervention": intervention,
        "meteredmwflow": metered,
        "mwflow": target,
        **limits,
    }


def registry(units: Sequence[tuple[str, str | None, str, float | None, bool]]) -> pa.Table:
    """A DUID registry: (duid, region, fuel, registered_capacity_mw, is_aggregate) per unit."""
    rows = [
        {
            "duid": duid,
            "region": region,
            "fuel": fuel,
            "registered_capacity_mw": capacity,
            "identity_source": "aemo_registration_list",
            "fuel_source": "aemo_registration_list",
            "inferred": False,
            "is_aggregate": aggregate,
        }
        for duid, region, fuel, capacity, aggregate in units
    ]
    return pa.Table.from_pylist(rows, schema=REGISTRY_SCHEMA)


_SPECS = {
    s.name: s
    for s in (
        DISPATCH_PRICE,
        DISPATCH_REGIONSUM,
        INTERCONNECTOR_FLOW,
        UNIT_SCADA,
        TRADING_PRICE,
        ROOFTOP_PV,
    )
}


def publish(
    writer: LakeWriter, **tables: Sequence[Mapping[str, object]]
) -> dict[str, tuple[datetime, datetime]]:
    """Publish rows of base tables; returns the changed ranges, as an ingest reports them."""
    data = {name: [rows_of(_SPECS[name], rows)] for name, rows in tables.items() if rows}
    writer.publish(data, [])
    changed: dict[str, tuple[datetime, datetime]] = {}
    for name, rows in tables.items():
        times = [r[_SPECS[name].time_column] for r in rows]
        stamps = [t for t in times if isinstance(t, datetime)]
        if stamps:
            changed[name] = (min(stamps), max(stamps))
    return changed


def contents(lake: Lake, name: str) -> pa.Table:
    """Every live row of a rollup table, sorted by key; fails on a key stored twice."""
    spec = ROLLUP_TABLES[name]
    parts = [pq.read_table(f.path) for f in lake.live_files(name)]
    for f, part in zip(lake.live_files(name), parts, strict=True):
        assert part.schema.equals(spec.arrow_schema)
        assert f.partition == f"month={f.min_time:%Y-%m}"
    if not parts:
        return spec.arrow_schema.empty_table()
    merged = pa.concat_tables(parts)
    ordered, dropped = sort_unique(merged, spec.primary_key)
    assert dropped == 0, f"{name}: {dropped} bucket keys are stored twice"
    return ordered


def row(lake: Lake, name: str, **key: object) -> dict[str, Any]:
    """The one rollup row with the given key values."""
    found = [r for r in contents(lake, name).to_pylist() if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, f"{name}: {len(found)} rows match {key}"
    return found[0]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(DataPaths(tmp_path / "data"))


@pytest.fixture
def writer(lake: Lake) -> Iterator[LakeWriter]:
    with lake.writer() as w:
        yield w


# -- buckets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "grain", "expected"),
    [
        (datetime(2024, 3, 1, 14, 5), "30m", datetime(2024, 3, 1, 14, 30)),
        (datetime(2024, 3, 1, 14, 30), "30m", datetime(2024, 3, 1, 14, 30)),
        (datetime(2024, 3, 1, 14, 35), "30m", datetime(2024, 3, 1, 15, 0)),
        (datetime(2024, 3, 1, 0, 5), "day", datetime(2024, 3, 2)),
        (datetime(2024, 3, 2, 0, 0), "day", datetime(2024, 3, 2)),
        (datetime(2024, 3, 2, 0, 5), "day", datetime(2024, 3, 3)),
    ],
)
def test_bucket_ends_are_period_ending(interval: datetime, grain: str, expected: datetime) -> None:
    assert bucket_end(interval, grain) == expected


def test_every_rollup_is_keyed_by_its_bucket_end() -> None:
    assert sorted(ROLLUP_TABLES) == sorted(
        [
            *(
                f"{f}_{g}"
                for f in ("price", "unit", "fuel", "interconnector")
                for g in ("30m", "day")
            ),
            "fuel_5m",
        ]
    )
    for spec in ROLLUP_TABLES.values():
        assert spec.primary_key[0] == spec.time_column == "bucket_end"
        assert "expected" in spec.column_names
    assert rollup_spec("price", "day").column("day").type == pa.date32()


def test_every_rollup_column_is_documented() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "rollups.md").read_text()
    for spec in ROLLUP_TABLES.values():
        assert f"`{spec.name}`" in text
        for column in spec.column_names:
            assert f"`{column}`" in text, f"docs/rollups.md does not mention {spec.name}.{column}"


# -- prices ----------------------------------------------------------------------------------------


def test_thirty_minute_price_is_the_mean_of_six_intervals(lake: Lake, writer: LakeWriter) -> None:
    rrps = [10.0, 20.0, 30.0, 40.0, -50.0, 1200.0]
    t0 = datetime(2024, 3, 1, 14, 5)
    rows = [price(t0 + i * FIVE, "NSW1", p) for i, p in enumerate(rrps)]
    rows.append(price(datetime(2024, 3, 1, 14, 0), "NSW1", 999.0))  # ends the 14:00 bucket
    rows.append(price(datetime(2024, 3, 1, 14, 35), "NSW1", 999.0))  # starts the 15:00 bucket
    loads = [demand(t0 + i * FIVE, "NSW1", 1000.0 * (i + 1)) for i in range(6)]
    rebuild_rollups(writer)
    update_rollups(writer, None, publish(writer, dispatch_price=rows, dispatch_regionsum=loads))

    r = row(lake, "price_30m", bucket_end=datetime(2024, 3, 1, 14, 30), regionid="NSW1")
    assert (r["rrp_count"], r["expected"]) == (6, 6)
    assert r["rrp_sum"] / r["rrp_count"] == pytest.approx(1250 / 6)  # the mean, not 1250 or 625
    assert (r["rrp_min"], r["rrp_max"]) == (-50.0, 1200.0)
    assert r["rrp_sumsq"] == pytest.approx(sum(p * p for p in rrps))
    assert (r["rrp_negative_count"], r["rrp_above_300_count"], r["rrp_above_1000_count"]) == (
        1,
        1,
        1,
    )
    assert (r["totaldemand_count"], r["totaldemand_min"], r["totaldemand_max"]) == (
        6,
        1000.0,
        6000.0,
    )
    weighted = sum(p * 1000.0 * (i + 1) for i, p in enumerate(rrps))
    assert r["rrp_x_totaldemand_sum"] == pytest.approx(weighted)
    assert r["priced_totaldemand_sum"] == pytest.approx(21000.0)
    assert row(lake, "price_30m", bucket_end=datetime(2024, 3, 1, 14, 0))["rrp_count"] == 1
    assert row(lake, "price_30m", bucket_end=datetime(2024, 3, 1, 15, 0))["rrp_count"] == 1


def test_partial_bucket_is_flagged(lake: Lake, writer: LakeWriter) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    rows = [price(t0 + i * FIVE, "SA1", 10.0 * (i + 1)) for i in range(6) if i != 3]
    rebuild_rollups(writer)
    update_rollups(writer, None, publish(writer, dispatch_price=rows))
    r = row(lake, "price_30m", bucket_end=datetime(2024, 3, 1, 14, 30), regionid="SA1")
    assert r["rrp_count"] / r["expected"] == pytest.approx(5 / 6)
    assert r["rrp_sum"] / r["rrp_count"] == pytest.approx((10 + 20 + 30 + 50 + 60) / 5)
    day = row(lake, "price_day", regionid="SA1")
    assert (day["bucket_end"], str(day["day"]), day["rrp_count"], day["expected"]) == (
        datetime(2024, 3, 2),
        "2024-03-01",
        5,
        288,
    )


def test_intervention_rows_are_left_out(lake: Lake, writer: LakeWriter, nemweb_root: Path) -> None:
    # AEMO's 2019-04-30 10:35 interval: an intervention run, two rows per region.
    path = nemweb_root / "Reports/CURRENT/DispatchIS_Reports"
    report = ingest_paths(writer, [path / "PUBLIC_DISPATCHIS_201904301035_0000000307325047.zip"])
    update_rollups(writer, None, report.changed)
    expected = {
        "VIC1": 89.02718,
        "NSW1": 82.40555,
        "SA1": 73.57078,
        "QLD1": 80.24907,
        "TAS1": 94.91969,
    }
    got = {
        r["regionid"]: r
        for r in contents(lake, "price_30m").to_pylist()
        if r["bucket_end"] == datetime(2019, 4, 30, 11, 0)
    }
    assert {k: v["rrp_sum"] for k, v in got.items()} == pytest.approx(expected)
    assert {v["rrp_count"] for v in got.values()} == {1}
    assert {v["totaldemand_count"] for v in got.values()} == {1}
    flows = contents(lake, "interconnector_30m").to_pylist()
    assert len(flows) == 6
    assert {r["mwflow_count"] for r in flows} == {1}


def test_synthetic_intervention_and_missing_demand(lake: Lake, writer: LakeWriter) -> None:
    t = datetime(2024, 3, 1, 14, 5)
    publish(
        writer,
        dispatch_price=[price(t, "QLD1", 50.0), price(t, "QLD1", 500.0, intervention=1)],
        dispatch_regionsum=[demand(t, "QLD1", 6000.0, intervention=1)],
        interconnector_flow=[
            flow(t, "NSW1-QLD1", -700.0, -710.0),
            flow(t, "NSW1-QLD1", 5.0, 5.0, 1),
        ],
    )
    rebuild_rollups(writer)
    r = row(lake, "price_30m", regionid="QLD1")
    assert (r["rrp_sum"], r["rrp_count"], r["rrp_above_300_count"]) == (50.0, 1, 0)
    assert (r["totaldemand_count"], r["totaldemand_sum"], r["rrp_x_totaldemand_sum"]) == (
        0,
        None,
        None,
    )
    f = row(lake, "interconnector_30m", interconnectorid="NSW1-QLD1")
    assert (f["meteredmwflow_sum"], f["mwflow_sum"], f["mwflow_count"]) == (-700.0, -710.0, 1)


def test_interconnector_limits_keep_sum_count_and_envelope(lake: Lake, writer: LakeWriter) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    rows = [
        flow(
            t0 + i * FIVE,
            "V-SA",
            100.0 * i,
            90.0 * i,
            exportlimit=600.0 - 10 * i,
            importlimit=-500.0 + i,
        )
        for i in range(6)
    ]
    publish(writer, interconnector_flow=rows)
    rebuild_rollups(writer)
    f = row(lake, "interconnector_30m", interconnectorid="V-SA")
    assert f["meteredmwflow_sum"] / f["meteredmwflow_count"] == pytest.approx(250.0)
    assert (f["meteredmwflow_min"], f["meteredmwflow_max"]) == (0.0, 500.0)
    assert f["exportlimit_sum"] / f["exportlimit_count"] == pytest.approx(575.0)
    assert (f["exportlimit_min"], f["importlimit_min"], f["importlimit_max"]) == (
        550.0,
        -500.0,
        -495.0,
    )


def test_day_buckets_run_from_0005_to_midnight(lake: Lake, writer: LakeWriter) -> None:
    day = datetime(2024, 3, 1)
    rows = [price(day + i * FIVE, "VIC1", float(i)) for i in range(290)]  # 00:00 .. next 00:05
    publish(writer, dispatch_price=rows)
    rebuild_rollups(writer)
    days = {
        str(r["day"]): r for r in contents(lake, "price_day").to_pylist() if r["regionid"] == "VIC1"
    }
    assert set(days) == {"2024-02-29", "2024-03-01", "2024-03-02"}
    assert (days["2024-02-29"]["rrp_count"], days["2024-02-29"]["rrp_sum"]) == (1, 0.0)  # 00:00
    full = days["2024-03-01"]
    assert (full["bucket_end"], full["rrp_count"], full["expected"]) == (
        datetime(2024, 3, 2),
        288,
        288,
    )
    assert full["rrp_sum"] == sum(range(1, 289))  # 00:05 .. 24:00
    assert (full["rrp_min"], full["rrp_max"]) == (1.0, 288.0)
    assert days["2024-03-02"]["rrp_count"] == 1  # 2024-03-02 00:05
    # The last day of February ends at 2024-03-01 00:00: it lives in the March partition.
    feb = [f for f in lake.live_files("price_day") if f.min_time == datetime(2024, 3, 1)]
    assert [f.partition for f in feb] == ["month=2024-03"]


def test_real_day_of_prices_matches_a_direct_average(tmp_path: Path, nemweb_root: Path) -> None:
    lake = Lake(DataPaths(tmp_path / "data"))
    archive = nemweb_root / "Reports/ARCHIVE/DispatchIS_Reports/PUBLIC_DISPATCHIS_20190516.zip"
    db = Database(Settings(data_dir=tmp_path / "data"), lake)
    with lake.writer() as writer:
        report = ingest_paths(writer, [archive])
        update_rollups(writer, db, report.changed)
    cur = db.cursor()
    direct = cur.sql(
        """SELECT regionid, avg(rrp), count(rrp), min(rrp), max(rrp), stddev_pop(rrp)
           FROM dispatch_price WHERE intervention = 0
             AND settlementdate > TIMESTAMP '2019-05-16 00:00'
             AND settlementdate <= TIMESTAMP '2019-05-17 00:00'
           GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    rolled = cur.sql(
        """SELECT regionid, rrp_sum / rrp_count, rrp_count, rrp_min, rrp_max,
                  sqrt(rrp_sumsq / rrp_count - (rrp_sum / rrp_count) ^ 2), expected
           FROM price_day WHERE day = DATE '2019-05-16' ORDER BY 1"""
    ).fetchall()
    assert [r[0] for r in rolled] == ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    for d, r in zip(direct, rolled, strict=True):
        assert r[1] == pytest.approx(d[1], rel=1e-12)
        assert r[2:5] == d[2:5]
        assert r[5] == pytest.approx(d[5], rel=1e-9)
        assert (r[2], r[6]) == (287, 288)  # the archive runs 00:00 .. 23:55: 24:00 is missing
    assert rolled[1][3] == -84.31  # QLD1's lowest price of the day (fixtures README)
    # 18:00 is the last interval of the half hour ending 18:00.
    assert cur.sql(
        "SELECT rrp_max >= 275.84137, rrp_count FROM price_30m "
        "WHERE regionid = 'NSW1' AND bucket_end = TIMESTAMP '2019-05-16 18:00'"
    ).fetchall() == [(True, 6)]
    demand_1800 = cur.sql(
        "SELECT count(*) FROM price_30m WHERE bucket_end = TIMESTAMP '2019-05-16 18:00' "
        "AND totaldemand_count = 6"
    ).fetchall()
    assert demand_1800 == [(5,)]


# -- units: energy and revenue ---------------------------------------------------------------------


def test_revenue_before_five_minute_settlement_uses_the_half_hour_price(
    lake: Lake, writer: LakeWriter
) -> None:
    writer.replace_table(
        REGISTRY_TABLE, registry([("ER01", "NSW1", "coal_black", 720.0, False)]), []
    )
    t0 = datetime(2019, 5, 16, 10, 5)
    mw = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    dispatch = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]  # differ from the trading price on purpose
    publish(
        writer,
        unit_scada=[scada(t0 + i * FIVE, "ER01", v) for i, v in enumerate(mw)],
        dispatch_price=[price(t0 + i * FIVE, "NSW1", p) for i, p in enumerate(dispatch)],
        trading_price=[trading(datetime(2019, 5, 16, 10, 30), "NSW1", 80.0)],
    )
    rebuild_rollups(writer)
    r = row(lake, "unit_30m", duid="ER01")
    assert r["bucket_end"] == datetime(2019, 5, 16, 10, 30)
    assert r["energy_mwh"] == pytest.approx(2100 * HOURS)
    assert r["revenue"] == pytest.approx(2100 * HOURS * 80.0)  # every interval at the 30-min price
    assert (r["revenue_count"], r["running_count"], r["regionid"]) == (6, 6, "NSW1")
    assert r["scadavalue_sum"] / r["scadavalue_count"] == pytest.approx(350.0)


def test_revenue_before_2021_falls_back_to_the_half_hour_mean_of_dispatch_prices(
    lake: Lake, writer: LakeWriter
) -> None:
    writer.replace_table(
        REGISTRY_TABLE, registry([("ER01", "NSW1", "coal_black", 720.0, False)]), []
    )
    t0 = datetime(2019, 5, 16, 10, 5)
    dispatch = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    publish(
        writer,
        unit_scada=[scada(t0 + i * FIVE, "ER01", 120.0) for i in range(6)],
        dispatch_price=[price(t0 + i * FIVE, "NSW1", p) for i, p in enumerate(dispatch)],
    )
    rebuild_rollups(writer)
    # No trading price: the half hour's price is the mean of its six dispatch prices (35).
    assert row(lake, "unit_30m", duid="ER01")["revenue"] == pytest.approx(6 * 120 * HOURS * 35.0)


def test_revenue_from_five_minute_settlement_uses_each_interval_price(
    lake: Lake, writer: LakeWriter
) -> None:
    writer.replace_table(REGISTRY_TABLE, registry([("HPR1", "SA1", "battery", 150.0, False)]), [])
    t0 = datetime(2024, 3, 3, 13, 5)
    mw = [50.0, -20.0, 0.0, 100.0, 10.0, 30.0]
    prices = [-63.45, 100.0, 5.0, 300.0, 20.0, None]  # the last interval has no trading price
    publish(
        writer,
        unit_scada=[scada(t0 + i * FIVE, "HPR1", v) for i, v in enumerate(mw)],
        trading_price=[
            trading(t0 + i * FIVE, "SA1", p) for i, p in enumerate(prices) if p is not None
        ],
        dispatch_price=[price(t0 + 5 * FIVE, "SA1", 40.0)],  # the fallback for 13:30
    )
    rebuild_rollups(writer)
    r = row(lake, "unit_30m", duid="HPR1")
    priced = [-63.45, 100.0, 5.0, 300.0, 20.0, 40.0]
    expected = sum(m * HOURS * p for m, p in zip(mw, priced, strict=True))
    assert r["revenue"] == pytest.approx(expected)
    assert r["energy_mwh"] == pytest.approx(sum(mw) * HOURS)
    assert (r["running_count"], r["revenue_count"], r["scadavalue_min"]) == (4, 6, -20.0)


def test_settlement_boundary_at_2021_10_01_0405(lake: Lake, writer: LakeWriter) -> None:
    writer.replace_table(
        REGISTRY_TABLE, registry([("BW01", "NSW1", "coal_black", 660.0, False)]), []
    )
    half_hour = datetime(2021, 10, 1, 4, 0)
    publish(
        writer,
        unit_scada=[
            scada(datetime(2021, 10, 1, 4, 0), "BW01", 600.0),
            scada(datetime(2021, 10, 1, 4, 5), "BW01", 600.0),
        ],
        trading_price=[
            trading(half_hour, "NSW1", 70.0),  # the last 30-minute trading price
            trading(datetime(2021, 10, 1, 4, 5), "NSW1", 90.0),  # the first 5-minute one
        ],
    )
    rebuild_rollups(writer)
    before = row(lake, "unit_30m", duid="BW01", bucket_end=half_hour)
    after = row(lake, "unit_30m", duid="BW01", bucket_end=datetime(2021, 10, 1, 4, 30))
    assert before["revenue"] == pytest.approx(600 * HOURS * 70.0)
    assert after["revenue"] == pytest.approx(600 * HOURS * 90.0)


def test_units_absent_from_the_registry_have_no_revenue(lake: Lake, writer: LakeWriter) -> None:
    t = datetime(2024, 3, 3, 13, 5)
    publish(
        writer,
        unit_scada=[scada(t, "MYSTERY1", 42.0), scada(t + FIVE, "MYSTERY1", None)],
        trading_price=[trading(t, "NSW1", 50.0)],
    )
    rebuild_rollups(writer)
    r = row(lake, "unit_30m", duid="MYSTERY1")
    assert (r["regionid"], r["revenue"], r["revenue_count"]) == (None, None, 0)
    assert (r["scadavalue_count"], r["energy_mwh"]) == (1, pytest.approx(42 * HOURS))
    fuel = row(lake, "fuel_30m", fuel="unknown")
    assert (fuel["regionid"], fuel["mw_sum"], fuel["revenue"]) == ("unknown", 42.0, None)


def test_real_scada_and_prices_give_hand_computed_unit_revenue(
    lake: Lake, writer: LakeWriter, nemweb_root: Path, shared_fixtures: Path
) -> None:
    workbook = shared_fixtures / "registry/NEM-Registration-and-Exemption-List.xlsx"
    writer.replace_table(
        REGISTRY_TABLE, build_registry(read_registration_list(workbook.read_bytes()), None), []
    )
    current = nemweb_root / "Reports/CURRENT"
    report = ingest_paths(
        writer,
        [
            current / "Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip",
            current / "DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip",
        ],
    )
    rebuild_rollups(writer)
    update_rollups(writer, None, report.changed)
    bucket = datetime(2025, 12, 27, 0, 30)
    # No trading price for 2025-12-27 00:05: the dispatch RRP (intervention 0) stands in.
    bw01 = row(lake, "unit_30m", duid="BW01", bucket_end=bucket)
    assert bw01["revenue"] == pytest.approx(328.166630 * HOURS * 33.51273)
    hpr1 = row(lake, "unit_30m", duid="HPR1", bucket_end=bucket)
    assert hpr1["revenue"] == pytest.approx(-0.60 * HOURS * 0.02331)
    assert (hpr1["running_count"], hpr1["scadavalue_count"], hpr1["expected"]) == (0, 1, 6)
    assert row(lake, "unit_30m", duid="DG_NSW1", bucket_end=bucket)["revenue"] is None
    units = contents(lake, "unit_30m")
    assert units.num_rows == 493
    assert pc.sum(units.column("scadavalue_sum")).as_py() == pytest.approx(19436.437)
    # The fuel rollups hold every listed unit, and the unlisted ones as unknown.
    fuels = contents(lake, "fuel_30m").to_pylist()
    assert sum(f["mw_sum"] for f in fuels) == pytest.approx(19436.437)
    assert sum(f["mw_neg_sum"] for f in fuels) < 0  # batteries charging (BLYTHB1 -50.73)


# -- fuels -----------------------------------------------------------------------------------------


def test_fuel_rollup_sums_units_per_interval_before_aggregating(
    lake: Lake, writer: LakeWriter
) -> None:
    writer.replace_table(
        REGISTRY_TABLE,
        registry(
            [
                ("W1", "SA1", "wind", 100.0, False),
                ("W2", "SA1", "wind", 50.0, False),
                ("B1", "SA1", "battery", 30.0, False),
                ("B2", "SA1", "battery", 20.0, False),
                ("DG_SA1", "SA1", "other", None, True),
            ]
        ),
        [],
    )
    t0 = datetime(2024, 3, 3, 13, 5)
    w1, w2 = [10.0, 80.0, 0.0], [70.0, 0.0, 40.0]  # unit minima 0, fleet minimum 40
    b1, b2 = [20.0, -10.0, 5.0], [-15.0, -5.0, 0.0]
    rows = []
    for i in range(3):
        t = t0 + i * FIVE
        rows += [
            scada(t, "W1", w1[i]),
            scada(t, "W2", w2[i]),
            scada(t, "B1", b1[i]),
            scada(t, "B2", b2[i]),
        ]
        rows.append(scada(t, "DG_SA1", 1000.0))
    publish(
        writer,
        unit_scada=rows,
        trading_price=[trading(t0 + i * FIVE, "SA1", 100.0) for i in range(3)],
    )
    rebuild_rollups(writer)
    wind = row(lake, "fuel_30m", regionid="SA1", fuel="wind")
    fleet = [a + b for a, b in zip(w1, w2, strict=True)]  # 80, 80, 40
    assert (wind["mw_count"], wind["expected"], wind["mw_min"], wind["mw_max"]) == (
        3,
        6,
        40.0,
        80.0,
    )
    assert wind["mw_sum"] == sum(fleet)
    assert wind["capacity_mw_sum"] == 3 * 150.0
    assert wind["running_capacity_mw_sum"] == 150.0 + 100.0 + 50.0  # W2 idle, then W1 idle
    assert wind["energy_mwh"] == pytest.approx(sum(fleet) * HOURS)
    assert wind["revenue"] == pytest.approx(sum(fleet) * HOURS * 100.0)
    battery = row(lake, "fuel_30m", regionid="SA1", fuel="battery")
    # Per interval: positive parts 20, 0, 5; negative parts -15, -15, 0; net 5, -15, 5.
    assert (battery["mw_pos_sum"], battery["mw_pos_min"], battery["mw_pos_max"]) == (
        25.0,
        0.0,
        20.0,
    )
    assert (battery["mw_neg_sum"], battery["mw_neg_min"], battery["mw_neg_max"]) == (
        -30.0,
        -15.0,
        0.0,
    )
    assert (battery["mw_sum"], battery["mw_min"], battery["mw_max"]) == (-5.0, -15.0, 5.0)
    assert battery["energy_neg_mwh"] == pytest.approx(-30 * HOURS)
    assert battery["revenue_neg"] == pytest.approx(-30 * HOURS * 100.0)
    assert battery["revenue_pos"] == pytest.approx(25 * HOURS * 100.0)
    # AEMO's aggregate pseudo-units are not physical units: no fuel row holds them.
    assert {r["fuel"] for r in contents(lake, "fuel_30m").to_pylist()} == {"wind", "battery"}
    assert row(lake, "unit_30m", duid="DG_SA1")["scadavalue_sum"] == 3000.0


def test_a_pumped_hydro_pump_counts_as_consumption(lake: Lake, writer: LakeWriter) -> None:
    """A scheduled load reports the MW it draws as positive SCADA (AEMO's convention)."""
    table = registry(
        [
            ("GEN1", "NSW1", "pumped_hydro", 300.0, False),
            ("PUMP1", "NSW1", "pumped_hydro", 250.0, False),
        ]
    )
    dispatch_type = pa.array(["generator", "load"], pa.string())
    table = table.set_column(
        table.schema.get_field_index("dispatch_type"), "dispatch_type", dispatch_type
    )
    writer.replace_table(REGISTRY_TABLE, table, [])
    t = datetime(2024, 3, 3, 13, 5)
    publish(
        writer,
        unit_scada=[scada(t, "GEN1", 0.0), scada(t, "PUMP1", 200.0)],
        trading_price=[trading(t, "NSW1", -20.0)],
    )
    rebuild_rollups(writer)
    hydro = row(lake, "fuel_30m", regionid="NSW1", fuel="pumped_hydro")
    assert hydro["mw_sum"] == -200.0
    assert hydro["mw_neg_sum"] == -200.0
    assert hydro["mw_pos_sum"] == 0.0


def test_rooftop_uses_regions_only_and_prefers_measurement(lake: Lake, writer: LakeWriter) -> None:
    h = datetime(2024, 3, 14, 11, 30)
    publish(
        writer,
        rooftop_pv=[
            rooftop(h, "QLD1", 2800.996),
            rooftop(h, "QLD1", 2500.0, "SATELLITE"),
            rooftop(h, "QLDC", 231.047),
            rooftop(h, "QLDN", 557.986),
            rooftop(h, "QLDS", 2011.963),
            rooftop(h, "TAS1", 40.0, "SATELLITE"),  # only a satellite estimate: used
            rooftop(h, "TASN", 40.0),
        ],
        trading_price=[
            trading(h - timedelta(minutes=25) + i * FIVE, "QLD1", 10.0 * (i + 1)) for i in range(6)
        ],
    )
    rebuild_rollups(writer)
    solar = {
        r["regionid"]: r
        for r in contents(lake, "fuel_30m").to_pylist()
        if r["fuel"] == "rooftop_solar"
    }
    assert set(solar) == {"QLD1", "TAS1"}
    qld = solar["QLD1"]
    assert (qld["bucket_end"], qld["mw_sum"], qld["mw_count"], qld["expected"]) == (
        h,
        2800.996,
        1,
        1,
    )
    assert qld["energy_mwh"] == pytest.approx(2800.996 * 0.5)
    assert qld["revenue"] == pytest.approx(2800.996 * 0.5 * 35.0)  # the half hour's mean price
    assert solar["TAS1"]["mw_sum"] == 40.0
    day = row(lake, "fuel_day", regionid="QLD1", fuel="rooftop_solar")
    assert (day["mw_count"], day["expected"]) == (1, 48)
    # At 5 minutes each interval of the half hour carries its value, at the interval's price.
    fine = [
        r
        for r in contents(lake, "fuel_5m").to_pylist()
        if r["fuel"] == "rooftop_solar" and r["regionid"] == "QLD1"
    ]
    assert [r["bucket_end"] for r in fine] == [
        h - timedelta(minutes=25) + i * FIVE for i in range(6)
    ]
    for i, r in enumerate(fine):
        assert (r["mw_sum"], r["mw_count"], r["expected"]) == (2800.996, 1, 1)
        assert r["energy_mwh"] == pytest.approx(2800.996 * 5 / 60)
        assert r["revenue"] == pytest.approx(2800.996 * 5 / 60 * 10.0 * (i + 1))


def test_real_rooftop_file_keeps_regions_only(
    lake: Lake, writer: LakeWriter, nemweb_root: Path
) -> None:
    path = nemweb_root / "Reports/CURRENT/ROOFTOP_PV/ACTUAL"
    report = ingest_paths(writer, sorted(path.glob("*.zip")))
    update_rollups(writer, None, report.changed)
    solar = [r for r in contents(lake, "fuel_30m").to_pylist() if r["fuel"] == "rooftop_solar"]
    assert sorted(r["regionid"] for r in solar) == ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    assert {r["bucket_end"] for r in solar} == {datetime(2024, 3, 3, 19, 30)}
    assert sum(r["mw_sum"] for r in solar) == pytest.approx(6.617)


def test_real_rooftop_week(tmp_path: Path, nemweb_root: Path) -> None:
    lake = Lake(DataPaths(tmp_path / "data"))
    archive = (
        nemweb_root
        / "Reports/ARCHIVE/ROOFTOP_PV/ACTUAL/PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240314.zip"
    )
    with lake.writer() as writer:
        update_rollups(writer, None, ingest_paths(writer, [archive]).changed)
    solar = [r for r in contents(lake, "fuel_30m").to_pylist() if r["fuel"] == "rooftop_solar"]
    at = {
        r["regionid"]: r["mw_sum"]
        for r in solar
        if r["bucket_end"] == datetime(2024, 3, 14, 11, 30)
    }
    assert (at["QLD1"], at["NSW1"]) == (2800.996, 3796.875)
    totals: dict[datetime, float] = {}
    for r in solar:
        totals[r["bucket_end"]] = totals.get(r["bucket_end"], 0.0) + r["mw_sum"]
    assert max(totals.values()) == pytest.approx(9760.073)
    assert max(totals, key=lambda k: totals[k]) == datetime(2024, 3, 16, 12, 0)
    days = [r for r in contents(lake, "fuel_day").to_pylist() if r["regionid"] == "NSW1"]
    full = [d for d in days if str(d["day"]) == "2024-03-15"]
    assert (full[0]["mw_count"], full[0]["expected"]) == (48, 48)


# -- incremental, upsert, rebuild ------------------------------------------------------------------


def test_republished_interval_changes_its_bucket_without_duplicates(
    lake: Lake, writer: LakeWriter
) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    rebuild_rollups(writer)
    update_rollups(
        writer,
        None,
        publish(writer, dispatch_price=[price(t0 + i * FIVE, "NSW1", 10.0) for i in range(6)]),
    )
    update_rollups(
        writer, None, publish(writer, dispatch_price=[price(t0 + 2 * FIVE, "NSW1", 70.0)])
    )
    r = row(lake, "price_30m", regionid="NSW1")
    assert (r["rrp_count"], r["rrp_sum"], r["rrp_max"]) == (6, 120.0, 70.0)
    assert row(lake, "price_day", regionid="NSW1")["rrp_sum"] == 120.0
    assert contents(lake, "price_30m").num_rows == 1


def test_update_catches_up_after_a_publish_it_missed(lake: Lake, writer: LakeWriter) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    rebuild_rollups(writer)
    publish(writer, dispatch_price=[price(t0, "NSW1", 10.0)])  # as if killed before its rollup
    update_rollups(
        writer, None, publish(writer, dispatch_price=[price(t0 + 12 * FIVE, "NSW1", 20.0)])
    )
    assert [r["rrp_sum"] for r in contents(lake, "price_30m").to_pylist()] == [10.0, 20.0]
    assert lake.get_state(BASE_VERSION_KEY) == str(lake.version() - 1)


def test_update_without_state_rebuilds_everything(lake: Lake, writer: LakeWriter) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    publish(writer, dispatch_price=[price(t0, "NSW1", 10.0)])
    report = update_rollups(writer, None, {})
    assert "price" in report.rebuilt
    assert row(lake, "price_30m", regionid="NSW1")["rrp_sum"] == 10.0


def forget_tables_key(lake: Lake) -> None:
    """Make the lake look written by a nemdash from before the rollup tables key."""
    with sqlite3.connect(lake.paths.state_db) as con:
        con.execute("DELETE FROM state WHERE key = ?", (TABLES_KEY,))


def test_a_rollup_table_new_to_an_older_store_is_built_by_the_next_update(
    lake: Lake, writer: LakeWriter
) -> None:
    t0 = datetime(2024, 3, 1, 14, 5)
    publish(writer, unit_scada=[scada(t0, "BW01", 600.0)])
    rebuild_rollups(writer)
    assert built_tables(lake) == set(ROLLUP_TABLES)
    # A store from before fuel_5m: no such files, no tables key at all.
    as_before_fuel_5m(lake, writer)
    forget_tables_key(lake)
    assert contents(lake, "fuel_5m").num_rows == 0
    assert "fuel_5m" not in built_tables(lake)
    assert missing_tables(lake) == ["fuel_5m"]
    update_rollups(writer, None, {})
    assert missing_tables(lake) == []
    assert [r["mw_sum"] for r in contents(lake, "fuel_5m").to_pylist()] == [600.0]
    assert built_tables(lake) == set(ROLLUP_TABLES)


def test_update_refuses_an_unknown_table(writer: LakeWriter) -> None:
    t = datetime(2024, 3, 1)
    with pytest.raises(StoreError, match="not a lake table"):
        update_rollups(writer, None, {"price_30m": (t, t)})


def test_registry_change_rebuilds_unit_and_fuel_rollups(lake: Lake, writer: LakeWriter) -> None:
    writer.replace_table(REGISTRY_TABLE, registry([("X1", "VIC1", "gas_ocgt", 100.0, False)]), [])
    t = datetime(2024, 3, 3, 13, 5)
    rebuild_rollups(writer)
    update_rollups(
        writer,
        None,
        publish(
            writer,
            unit_scada=[scada(t, "X1", 50.0)],
            trading_price=[trading(t, "NSW1", 10.0), trading(t, "VIC1", 20.0)],
        ),
    )
    assert {(r["regionid"], r["fuel"]) for r in contents(lake, "fuel_30m").to_pylist()} == {
        ("VIC1", "gas_ocgt")
    }
    # The unit was registered in the wrong region and fuel: the new registry moves it.
    writer.replace_table(REGISTRY_TABLE, registry([("X1", "NSW1", "gas_ccgt", 200.0, False)]), [])
    report = update_rollups(writer, None, {})
    assert set(report.rebuilt) == {"unit", "fuel"}
    fuels = contents(lake, "fuel_30m").to_pylist()
    assert [(r["regionid"], r["fuel"], r["capacity_mw_sum"]) for r in fuels] == [
        ("NSW1", "gas_ccgt", 200.0)
    ]
    unit = row(lake, "unit_30m", duid="X1")
    assert (unit["regionid"], unit["revenue"]) == ("NSW1", pytest.approx(50 * HOURS * 10.0))
    # Nothing else to do afterwards.
    assert update_rollups(writer, None, {}).rebuilt == ()
    assert rebuild_registry_rollups(writer).rebuilt == ("unit", "fuel")


def test_compaction_leaves_the_newest_rollup_file_alone(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path / "data"), compact_max_files=3)
    t0 = datetime(2024, 3, 1, 14, 5)
    with lake.writer() as writer:
        rebuild_rollups(writer)
        for i in range(5):  # one new half hour each: a new small price_30m file each
            t = t0 + i * timedelta(minutes=30)
            update_rollups(writer, None, publish(writer, dispatch_price=[price(t, "NSW1", 1.0)]))
        newest = max(lake.live_files("price_30m"), key=lambda f: f.max_time or t0)
        assert writer.maybe_compact() is not None
        assert len(lake.live_files("price_30m")) == 2
        assert newest in lake.live_files("price_30m")
        merged = next(f for f in lake.live_files("price_30m") if f != newest)
        # The open half hour fills up: only the small newest file is rewritten.
        late = t0 + 4 * timedelta(minutes=30) + FIVE
        update_rollups(writer, None, publish(writer, dispatch_price=[price(late, "NSW1", 3.0)]))
        assert merged in lake.live_files("price_30m")
    assert row(lake, "price_30m", bucket_end=datetime(2024, 3, 1, 16, 30))["rrp_sum"] == 4.0


def test_rebuild_reports_progress_month_by_month(lake: Lake, writer: LakeWriter) -> None:
    publish(
        writer,
        dispatch_price=[
            price(datetime(2024, 1, 15, 12, 0), "NSW1", 1.0),
            price(datetime(2024, 3, 15, 12, 0), "NSW1", 2.0),
        ],
    )
    seen: list[tuple[int, int, str]] = []
    report = rebuild_rollups(writer, lake, progress=lambda d, n, p: seen.append((d, n, p)))
    assert seen == [(1, 2, "month=2024-01"), (2, 2, "month=2024-03")]
    assert len(report.versions) == 3  # March's newest bucket goes in a small file of its own
    before = contents(lake, "price_30m")
    again = rebuild_rollups(writer)  # replaces each partition's files with the same rows
    assert again.written == {"price_30m": 2, "price_day": 2}
    assert contents(lake, "price_30m").equals(before)


# Base tables and the universe the hypothesis test draws from: two days across the month end of
# September 2021 and five-minute settlement (2021-10-01 04:05).
_START = datetime(2021, 9, 30, 20, 0)
_INTERVALS = 12 * 16
_DUIDS = ("A1", "A2", "B1", "ZZ9")  # ZZ9 is in no registry

_publish_step = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "unit_scada",
                "dispatch_price",
                "trading_price",
                "rooftop_pv",
                "interconnector_flow",
                "dispatch_regionsum",
            ]
        ),
        st.integers(0, _INTERVALS - 1),
        st.integers(-50, 400),
    ),
    min_size=1,
    max_size=25,
)


def _rows_for(step: Sequence[tuple[str, int, int]]) -> dict[str, list[dict[str, object]]]:
    tables: dict[str, list[dict[str, object]]] = {}
    for table, i, value in step:
        t = _START + (i + 1) * FIVE
        v = float(value)
        if table == "unit_scada":
            made = [scada(t, d, v + k) for k, d in enumerate(_DUIDS)]
        elif table == "dispatch_price":
            made = [
                price(t, "NSW1", v),
                price(t, "VIC1", v / 2),
                price(t, "NSW1", v + 1, intervention=1),
            ]
        elif table == "dispatch_regionsum":
            made = [demand(t, "NSW1", 5000 + v), demand(t, "VIC1", 4000 + v)]
        elif table == "trading_price":
            t = bucket_end(t, "30m") if t < datetime(2021, 10, 1, 4, 5) else t
            made = [trading(t, "NSW1", v + 3), trading(t, "VIC1", v - 3)]
        elif table == "rooftop_pv":
            t = bucket_end(t, "30m")
            made = [
                rooftop(t, "NSW1", abs(v)),
                rooftop(t, "NSW1", 1.0, "SATELLITE"),
                rooftop(t, "QLDC", 7.0),
            ]
        else:
            made = [flow(t, "VIC1-NSW1", v, v - 1, exportlimit=1000 + v, importlimit=-900.0)]
        tables.setdefault(table, []).extend(made)
    return tables


def _assert_same(a: pa.Table, b: pa.Table, name: str) -> None:
    assert a.num_rows == b.num_rows, name
    for field in a.schema:
        left, right = a.column(field.name).to_pylist(), b.column(field.name).to_pylist()
        if pa.types.is_floating(field.type):
            for x, y in zip(left, right, strict=True):
                assert (x is None) == (y is None), (name, field.name)
                if x is not None and y is not None:
                    assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (name, field.name, x, y)
        else:
            assert left == right, (name, field.name)


_ALL = (
    "unit_scada",
    "dispatch_price",
    "trading_price",
    "rooftop_pv",
    "interconnector_flow",
    "dispatch_regionsum",
)


def _incremental_then_rebuild(
    steps: Sequence[Sequence[tuple[str, int, int]]], compact: bool
) -> None:
    """Publish each step and update the rollups after it; a rebuild must then change nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(DataPaths(Path(tmp)), compact_max_files=2)
        db = Database(Settings(data_dir=Path(tmp)), lake)
        with lake.writer() as writer:
            writer.replace_table(
                REGISTRY_TABLE,
                registry(
                    [
                        ("A1", "NSW1", "wind", 10.0, False),
                        ("A2", "NSW1", "wind", 5.0, False),
                        ("B1", "VIC1", "battery", 3.0, False),
                    ]
                ),
                [],
            )
            rebuild_rollups(writer, db)
            for step in steps:
                update_rollups(writer, db, publish(writer, **_rows_for(step)))
                if compact:
                    writer.maybe_compact()
            incremental = {name: contents(lake, name) for name in ROLLUP_TABLES}
            rebuild_rollups(writer, db)
            for name in ROLLUP_TABLES:
                _assert_same(incremental[name], contents(lake, name), name)
        db.close()


# Interval 47 ends at 2021-10-01 00:00 (the month's first partition boundary), 96 at 04:05 (the
# first five-minute settled interval).
_SCENARIOS = {
    "interval by interval over the settlement start": [
        [(table, i, 10 * i - 900) for table in _ALL] for i in range(94, 98)
    ],
    "across midnight and the month end": [
        [(table, i, i) for table in _ALL for i in range(40, 47)],
        [(table, i, -i) for table in _ALL for i in range(47, 53)],
    ],
    "re-issued values and late tables": [
        [("unit_scada", i, 100) for i in range(10, 21)],
        [("unit_scada", 12, 300), *[("dispatch_price", i, 50) for i in range(5, 26)]],
        [("dispatch_price", 20, 5000)],
        [
            (t, i, 7)
            for t in ("rooftop_pv", "trading_price", "interconnector_flow")
            for i in range(31)
        ],
    ],
}


@pytest.mark.parametrize("compact", [False, True], ids=["no compaction", "compaction"])
@pytest.mark.parametrize("scenario", sorted(_SCENARIOS))
def test_incremental_updates_equal_a_full_rebuild(scenario: str, compact: bool) -> None:
    _incremental_then_rebuild(_SCENARIOS[scenario], compact)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_publish_step, min_size=1, max_size=4), st.booleans())
def test_incremental_updates_equal_a_full_rebuild_for_any_publishes(
    steps: list[list[tuple[str, int, int]]], compact: bool
) -> None:
    _incremental_then_rebuild(steps, compact)


def test_an_update_with_nothing_pending_publishes_nothing(lake: Lake, writer: LakeWriter) -> None:
    t = datetime(2024, 3, 3, 13, 5)
    publish(writer, dispatch_price=[price(t, "SA1", 50.0)])
    update_rollups(writer, lake, {})
    version = lake.version()
    report = update_rollups(writer, lake, {})
    assert report.versions == ()
    assert lake.version() == version
