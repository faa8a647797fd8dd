"""Interconnector flows: the sign turned to each region's point of view, limits, and real data."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nemdash.config import DataPaths, Settings
from nemdash.errors import QueryError
from nemdash.query.connection import Database
from nemdash.query.interconnectors import INTERCONNECTORS, interconnector_flows, signs_for
from nemdash.store.ingest import ingest_paths
from nemdash.store.lake import Lake
from nemdash.store.rollups import rebuild_rollups
from query_factory import DAY1, FIVE, HALF_HOUR, Inputs, aware, build_store, market

DAY2 = DAY1 + timedelta(days=1)
BUCKET = DAY1 + timedelta(hours=6)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("flows")) / "data", inputs)
    yield database
    database.close()


def mean_flow(inputs: Inputs, ic: str, bucket: datetime) -> float:
    times = [bucket - HALF_HOUR + (i + 1) * FIVE for i in range(6)]
    return statistics.fmean(inputs.flows[ic, t][0] for t in times)


def at_bucket(db: Database, region: str | None) -> dict[str, dict[str, object]]:
    table = interconnector_flows(
        db, region=region, start=aware(DAY1), end=aware(DAY2), resolution="30m"
    )
    return {str(r["interconnectorid"]): r for r in table.to_pylist() if r["bucket_end"] == BUCKET}


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # positive = import into the region
        ("NSW1", {"VIC1-NSW1": 1, "NSW1-QLD1": -1}),
        ("QLD1", {"NSW1-QLD1": 1}),
        ("VIC1", {"VIC1-NSW1": -1, "V-SA": -1, "T-V-MNSP1": 1}),
        ("SA1", {"V-SA": 1}),
        ("TAS1", {"T-V-MNSP1": -1}),
    ],
)
def test_the_sign_is_turned_so_that_imports_are_positive(
    db: Database, inputs: Inputs, region: str, expected: dict[str, int]
) -> None:
    rows = at_bucket(db, region)
    assert set(rows) == set(
        expected
    )  # only the interconnectors the store has and the region touches
    for ic, sign in expected.items():
        row = rows[ic]
        assert row["flow_mw"] == pytest.approx(sign * mean_flow(inputs, ic, BUCKET))
        assert row["target_mw"] == pytest.approx(sign * (mean_flow(inputs, ic, BUCKET) + 1.0))
        _, export, imp = inputs.flows[ic, BUCKET]
        # AEMO: exportlimit bounds the first -> second flow, importlimit (negative) the reverse.
        if sign > 0:
            assert (row["import_limit_mw"], row["export_limit_mw"]) == (export, -imp)
        else:
            assert (row["import_limit_mw"], row["export_limit_mw"]) == (-imp, export)
        assert -row["export_limit_mw"] <= row["flow_mw"] <= row["import_limit_mw"]  # type: ignore[operator]
        assert row["completeness"] == 1.0


def test_envelope_turns_with_the_sign(db: Database, inputs: Inputs) -> None:
    nsw = at_bucket(db, "NSW1")["VIC1-NSW1"]
    vic = at_bucket(db, "VIC1")["VIC1-NSW1"]
    # VIC1-NSW1 runs 100, 101, 102 (cycling): seen from VIC1 it is an export, -102 .. -100.
    assert (nsw["flow_min_mw"], nsw["flow_max_mw"]) == (100.0, 102.0)
    assert (vic["flow_min_mw"], vic["flow_max_mw"]) == (-102.0, -100.0)


def test_without_a_region_the_sign_is_aemos(db: Database, inputs: Inputs) -> None:
    rows = at_bucket(db, None)
    assert set(rows) == {"VIC1-NSW1", "NSW1-QLD1", "V-SA", "T-V-MNSP1"}
    for ic, row in rows.items():
        assert row["flow_mw"] == pytest.approx(mean_flow(inputs, ic, BUCKET))
        first, second = INTERCONNECTORS[ic]
        assert (row["from_regionid"], row["to_regionid"]) == (first, second)


def test_every_interconnector_touches_two_regions() -> None:
    for ic in INTERCONNECTORS:
        seen = [r for r in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1") if ic in signs_for(r)]
        assert sorted(signs_for(r)[ic] for r in seen) == [-1, 1]


def test_unknown_interconnector_or_region_is_refused(db: Database) -> None:
    with pytest.raises(QueryError, match="unknown interconnector"):
        interconnector_flows(
            db, region="SA1", interconnectors=["VIC1-NSW1"], start=aware(DAY1), end=aware(DAY2)
        )
    with pytest.raises(QueryError, match="unknown region 'NEM'"):
        interconnector_flows(db, region="NEM", start=aware(DAY1), end=aware(DAY2))


def test_one_interconnector_at_five_minutes(db: Database, inputs: Inputs) -> None:
    start = DAY1 + timedelta(hours=1)
    table = interconnector_flows(
        db,
        region="TAS1",
        interconnectors=["T-V-MNSP1"],
        start=aware(start),
        end=aware(start + timedelta(hours=1)),
    )
    assert table.num_rows == 12
    assert set(table.column("flow_mw").to_pylist()) == {-200.0}
    assert table.column("bucket_end").to_pylist()[0] == start + FIVE


def test_real_flow_from_each_side(tmp_path: Path, nemweb_root: Path) -> None:
    lake = Lake(DataPaths(tmp_path / "data"))
    path = (
        nemweb_root
        / "Reports/CURRENT/DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip"
    )
    with lake.writer() as writer:
        ingest_paths(writer, [path])
        rebuild_rollups(writer)
    db = Database(Settings(data_dir=tmp_path / "data", cache_memory_bytes=0, cache_disk_bytes=0))
    at = datetime(2025, 12, 27, 0, 5)
    span = {"start": aware(at - FIVE), "end": aware(at)}
    nsw = interconnector_flows(db, region="NSW1", **span)  # type: ignore[arg-type]
    vic = interconnector_flows(db, region="VIC1", **span)  # type: ignore[arg-type]
    into_nsw = {r["interconnectorid"]: r for r in nsw.to_pylist()}
    into_vic = {r["interconnectorid"]: r for r in vic.to_pylist()}
    # Fixtures README: VIC1-NSW1 METEREDMWFLOW 1087.51257 (VIC to NSW), MWFLOW 1110.2242.
    assert into_nsw["VIC1-NSW1"]["flow_mw"] == pytest.approx(1087.51257)
    assert into_vic["VIC1-NSW1"]["flow_mw"] == pytest.approx(-1087.51257)
    assert into_nsw["VIC1-NSW1"]["target_mw"] == pytest.approx(1110.2242)
    assert into_vic["T-V-MNSP1"]["flow_mw"] == 0.0
    db.close()
