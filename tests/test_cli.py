"""The ``nemdash`` command, run as users run it: a real subprocess on a real data directory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CURRENT = "Reports/CURRENT"


def nemdash(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess with its own data directory."""
    env = {**os.environ, "NEMDASH_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "nemdash.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nemdash {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def store(nemweb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding every real CURRENT fixture and the 2019-05-16 daily archive."""
    data_dir = tmp_path_factory.mktemp("data")
    nemdash(
        data_dir,
        "ingest",
        str(nemweb_root / CURRENT),
        str(nemweb_root / "Reports/ARCHIVE/DispatchIS_Reports"),
    )
    return data_dir


def sql_csv(data_dir: Path, query: str) -> list[dict[str, str]]:
    out = nemdash(data_dir, "sql", query, "--format", "csv").stdout
    return list(csv.DictReader(io.StringIO(out)))


def test_ingested_prices_match_aemo_files(store: Path) -> None:
    rows = sql_csv(
        store,
        "SELECT regionid, rrp FROM dispatch_price WHERE settlementdate = "
        "TIMESTAMP '2025-12-27 00:05:00' AND intervention = 0 ORDER BY regionid",
    )
    assert {r["regionid"]: float(r["rrp"]) for r in rows} == {
        "NSW1": 33.51273,
        "QLD1": 34.75,
        "SA1": 0.02331,
        "TAS1": 1.12,
        "VIC1": -2.69976,
    }


def test_a_whole_archived_day_has_288_intervals_per_region(store: Path) -> None:
    rows = sql_csv(
        store,
        "SELECT regionid, count(*) AS n FROM dispatch_price WHERE intervention = 0 AND "
        "settlementdate > '2019-05-16' AND settlementdate <= '2019-05-16 23:55' GROUP BY 1",
    )
    assert {r["regionid"]: int(r["n"]) for r in rows} == dict.fromkeys(
        ("NSW1", "QLD1", "SA1", "TAS1", "VIC1"), 287
    )


def test_reingesting_the_same_files_changes_nothing(store: Path, nemweb_root: Path) -> None:
    before = nemdash(store, "sql", "SELECT count(*) AS n FROM unit_scada", "-f", "json").stdout
    again = nemdash(store, "ingest", str(nemweb_root / CURRENT)).stdout
    assert "0 ingested" in again
    assert "already in the store" in again
    after = nemdash(store, "sql", "SELECT count(*) AS n FROM unit_scada", "-f", "json").stdout
    assert json.loads(before) == json.loads(after) == [{"n": 390 + 493}]


def test_sql_refuses_anything_but_a_query(store: Path) -> None:
    for statement in (
        "DROP VIEW unit_scada",
        "COPY (SELECT 1) TO 'x.csv'",
        "SELECT 1; SELECT 2",
        "INSERT INTO t VALUES (1)",
    ):
        result = nemdash(store, "sql", statement, check=False)
        assert result.returncode == 1, statement
        assert "error" in result.stderr
    assert "only read-only queries" in nemdash(store, "sql", "DROP VIEW x", check=False).stderr


def test_sql_json_times_carry_the_nem_offset(store: Path) -> None:
    out = nemdash(
        store, "sql", "SELECT max(settlementdate) AS last FROM unit_scada", "--format", "json"
    ).stdout
    assert json.loads(out) == [{"last": "2025-12-27T00:05:00+10:00"}]


def test_sql_table_output_and_row_cap(store: Path) -> None:
    result = nemdash(store, "sql", "SELECT duid FROM unit_scada ORDER BY duid", "--max-rows", "3")
    assert "truncated" in result.stderr
    assert result.stdout.count("\n") < 12


def test_tables_lists_rows_span_and_gaps(store: Path) -> None:
    out = nemdash(store, "tables").stdout
    assert "dispatch_price" in out
    assert "2019-04-30 10:35" in out  # the intervention fixture is the first interval
    assert "2025-12-27 00:05" in out
    # The whole archived day is there, so the gap ends just before it starts.
    assert "2019-04-30 10:40 .. 2019-05-15 23:55 (4480 intervals)" in out


def test_ingest_reports_a_corrupt_file_and_keeps_the_rest(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "PUBLIC_DISPATCHSCADA_202601010005_0000000000000001.zip"
    bad.write_bytes(b"<html><body>403 Forbidden</body></html>")
    result = nemdash(store, "ingest", str(bad), check=False)
    assert result.returncode == 2
    assert "quarantined" in result.stderr
    assert (store / "quarantine").is_dir()


def test_unknown_table_is_a_clear_error(store: Path, nemweb_root: Path) -> None:
    result = nemdash(store, "ingest", str(nemweb_root / CURRENT), "--tables", "nope", check=False)
    assert result.returncode == 1
    assert "known tables" in result.stderr


def test_ingest_brings_the_rollups_up_to_date(store: Path) -> None:
    rows = sql_csv(
        store,
        "SELECT regionid, rrp_count, round(rrp_sum / rrp_count, 5) AS mean FROM price_day "
        "WHERE day = DATE '2019-05-16' ORDER BY regionid",
    )
    assert [r["regionid"] for r in rows] == ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    # The archive holds 00:00 .. 23:55: 287 of the day's 288 intervals (00:00 is the 15th's).
    assert {int(r["rrp_count"]) for r in rows} == {287}
    direct = sql_csv(
        store,
        "SELECT round(avg(rrp), 5) AS mean FROM dispatch_price WHERE regionid = 'NSW1' "
        "AND intervention = 0 AND settlementdate > '2019-05-16' "
        "AND settlementdate <= '2019-05-17'",
    )
    assert rows[0]["mean"] == direct[0]["mean"]


def test_rollup_rebuild_gives_the_same_buckets(store: Path) -> None:
    query = "SELECT count(*) AS n, sum(rrp_sum) AS s FROM price_30m"
    before = sql_csv(store, query)
    assert "rollup rows written" in nemdash(store, "rollup", "--rebuild").stdout
    assert sql_csv(store, query) == before


@pytest.mark.slow
def test_demo_builds_a_labelled_store_apart_from_the_real_one(tmp_path: Path) -> None:
    real, demo_dir = tmp_path / "real", tmp_path / "demo"
    env = {**os.environ, "NEMDASH_DEMO_DATA_DIR": str(demo_dir), "NEMDASH_DATA_DIR": str(real)}
    command = [sys.executable, "-m", "nemdash.cli", "demo", "--days", "2", "--units", "60"]
    result = subprocess.run(
        [*command, "--no-serve"], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC demo store" in result.stdout
    assert not real.exists() or not any(real.iterdir())
    again = subprocess.run(
        [*command, "--no-serve"], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert "reused" in again.stdout
    # The demo store is an ordinary store: the same commands read it.
    rows = sql_csv(
        next(p.parent for p in demo_dir.rglob("state.sqlite")),
        "SELECT count(DISTINCT duid) AS units FROM unit_scada",
    )
    assert int(rows[0]["units"]) >= 60


def test_cache_warm_stats_and_clear(store: Path) -> None:
    warmed = nemdash(store, "cache", "warm").stdout
    assert "hot queries cached (0 failed)" in warmed
    stats = nemdash(store, "cache", "stats").stdout
    assert "disk" in stats
    assert "entries" in stats
    cleared = nemdash(store, "cache", "clear").stdout
    assert "cached results deleted" in cleared
    assert not cleared.startswith("0 ")
