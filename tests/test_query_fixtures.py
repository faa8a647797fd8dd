"""Query functions over AEMO's own files (``../shared/fixtures``), ingested through the real path.

Expected values are the verified facts of ``../shared/fixtures/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

from nemdash.config import DataPaths, Settings
from nemdash.nemweb.registry_sources import read_registration_list
from nemdash.query.connection import Database
from nemdash.query.generation import generation_mix
from nemdash.query.prices import price_series, price_stats
from nemdash.query.stations import station_search, station_summary
from nemdash.store.ingest import ingest_paths
from nemdash.store.lake import Lake
from nemdash.store.registry import REGISTRY_TABLE, build_registry
from nemdash.store.rollups import rebuild_rollups
from query_factory import FIVE, HOURS, aware

DAY = datetime(2019, 5, 16)


def open_db(root: Path) -> Database:
    return Database(Settings(data_dir=root, cache_memory_bytes=0, cache_disk_bytes=0))


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory: pytest.TempPathFactory, nemweb_root: Path) -> Iterator[Database]:
    """The real day 2019-05-16 (288 DISPATCHIS files) and the 2019-04-30 intervention interval."""
    root = Path(tmp_path_factory.mktemp("archive")) / "data"
    dispatch = nemweb_root / "Reports"
    with Lake(DataPaths(root)).writer() as writer:
        ingest_paths(
            writer,
            [
                dispatch / "ARCHIVE/DispatchIS_Reports/PUBLIC_DISPATCHIS_20190516.zip",
                dispatch
                / "CURRENT/DispatchIS_Reports/PUBLIC_DISPATCHIS_201904301035_0000000307325047.zip",
            ],
        )
        rebuild_rollups(writer)
    db = open_db(root)
    yield db
    db.close()


@pytest.mark.slow
def test_nsw_price_at_six_pm(archive_db: Database) -> None:
    at = DAY + timedelta(hours=18)
    table = price_series(
        archive_db, regions=["NSW1", "VIC1"], start=aware(at - FIVE), end=aware(at)
    )
    assert table.column("rrp_mean").to_pylist() == [275.84137, 290.0]
    # The half hour ending 18:00 holds it, as its highest price.
    half = price_series(
        archive_db, regions="NSW1", start=aware(at - FIVE), end=aware(at), resolution="30m"
    )
    assert half.column("bucket_end").to_pylist() == [at]
    assert half.column("rrp_max")[0].as_py() >= 275.84137


@pytest.mark.slow
def test_a_real_day_of_statistics(archive_db: Database) -> None:
    table = price_stats(
        archive_db, regions=["QLD1"], start=aware(DAY), end=aware(DAY + timedelta(days=1))
    )
    row = table.to_pylist()[0]
    assert row["rrp_min"] == -84.31  # QLD1's lowest price of the day
    # The archive runs 00:00 .. 23:55: the interval ending 24:00 is not in it.
    assert (row["intervals"], row["expected_intervals"]) == (287, 288)
    assert row["negative_intervals"] >= 1


@pytest.mark.slow
def test_real_partial_days_are_flagged(archive_db: Database) -> None:
    table = price_series(
        archive_db,
        regions="TAS1",
        start=aware(DAY - timedelta(days=1)),
        end=aware(DAY + timedelta(days=1)),
        resolution="day",
    )
    rows = [(r["bucket_end"], r["intervals"]) for r in table.to_pylist()]
    # 2019-05-16 00:00 closes the day before; the rest is 287 of the 16th's 288.
    assert rows == [(DAY, 1), (DAY + timedelta(days=1), 287)]
    assert table.column("completeness").to_pylist() == [1 / 288, 287 / 288]
    first = price_series(archive_db, regions="TAS1", start=aware(DAY - FIVE), end=aware(DAY))
    assert first.column("rrp_mean").to_pylist() == [98.35]


@pytest.mark.slow
def test_the_intervention_run_is_not_the_market_price(archive_db: Database) -> None:
    at = datetime(2019, 4, 30, 10, 35)
    table = price_series(archive_db, start=aware(at - FIVE), end=aware(at))
    prices = dict(
        zip(table.column("regionid").to_pylist(), table.column("rrp_mean").to_pylist(), strict=True)
    )
    assert prices == {
        "NSW1": 82.40555,
        "QLD1": 80.24907,
        "SA1": 73.57078,
        "TAS1": 94.91969,
        "VIC1": 89.02718,
    }


@pytest.fixture(scope="module")
def scada_db(
    tmp_path_factory: pytest.TempPathFactory, nemweb_root: Path, shared_fixtures: Path
) -> Iterator[Database]:
    """Real SCADA and prices of 2025-12-27 00:05 with AEMO's registration list, and rooftop PV."""
    root = Path(tmp_path_factory.mktemp("scada")) / "data"
    workbook = shared_fixtures / "registry/NEM-Registration-and-Exemption-List.xlsx"
    current = nemweb_root / "Reports/CURRENT"
    db = open_db(root)
    with Lake(DataPaths(root)).writer() as writer:
        ingest_paths(
            writer,
            [
                current / "Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip",
                current / "DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip",
                *sorted((current / "ROOFTOP_PV/ACTUAL").glob("*.zip")),
            ],
        )
        # As `nemdash registry update` does: the DUIDs seen in SCADA join the registry, so that
        # AEMO's DG_*/RT_* pseudo-units are known as aggregates.
        seen = db.query("SELECT DISTINCT duid FROM unit_scada").table.column(0).to_pylist()
        aemo = read_registration_list(workbook.read_bytes())
        writer.replace_table(REGISTRY_TABLE, build_registry(aemo, None, seen), [])
        rebuild_rollups(writer)
    yield db
    db.close()


AT = datetime(2025, 12, 27, 0, 5)


def test_real_station_search_and_unit_summary(scada_db: Database) -> None:
    bayswater = station_search(scada_db, query="bayswater")
    assert bayswater.column("duid").to_pylist()[:4] == ["BW01", "BW02", "BW03", "BW04"]
    assert station_search(scada_db, query="HPR1").column("match").to_pylist()[0] == "duid"
    summary = station_summary(scada_db, duid="BW01", start=aware(AT - FIVE), end=aware(AT))
    # SCADA BW01 328.166630 MW; no trading price that day, so the dispatch RRP 33.51273 settles.
    assert summary.energy_mwh == pytest.approx(328.166630 * HOURS)
    assert summary.revenue == pytest.approx(328.166630 * HOURS * 33.51273)
    assert summary.average_price == pytest.approx(33.51273)
    assert summary.registered_capacity_mw == 660.0
    battery = station_summary(scada_db, duid="HPR1", start=aware(AT - FIVE), end=aware(AT))
    assert battery.energy_mwh == pytest.approx(-0.60 * HOURS)  # charging
    assert battery.running_hours == 0.0


def test_real_mix_adds_up_to_the_physical_units(scada_db: Database) -> None:
    table = generation_mix(scada_db, start=aware(AT - FIVE), end=aware(AT))
    total = pc.sum(table.column("mw")).as_py()
    physical = (
        scada_db.query(
            """SELECT sum(s.scadavalue) FROM unit_scada s
           LEFT JOIN duid_registry r ON r.duid = s.duid
           WHERE NOT coalesce(r.is_aggregate, false)"""
        )
        .table.column(0)[0]
        .as_py()
    )
    assert total == pytest.approx(physical)
    # Fixtures README: 19436.437 over every DUID; AEMO's DG_*/RT_* pseudo-units are all 0 here.
    assert total == pytest.approx(19436.437)
    charging = [r for r in table.to_pylist() if r["series"] == "battery_charging"]
    assert charging[0]["mw"] < 0
    nem_price = table.column("rrp")[0].as_py()
    assert -2.69976 < nem_price < 34.75  # between VIC1's and QLD1's prices at 00:05


def test_real_rooftop_regions_only(scada_db: Database) -> None:
    at = datetime(2024, 3, 3, 19, 30)
    table = generation_mix(
        scada_db, start=aware(at - timedelta(minutes=30)), end=aware(at), resolution="30m"
    )
    rooftop = [r for r in table.to_pylist() if r["series"] == "rooftop_solar"]
    assert [r["mw"] for r in rooftop] == [pytest.approx(6.617)]  # SA1 6.617, every other 0
