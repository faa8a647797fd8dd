"""The Parquet lake and its manifest: upsert, partitions, versions, compaction, vacuum, the lock.

Everything runs on real Parquet files, a real SQLite manifest and, for the lock, a real second
process. Crash safety (processes killed mid-publish) is in ``test_lake_crash.py``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemdash.config import DataPaths
from nemdash.errors import StoreBusy, StoreError
from nemdash.store.keys import row_group_size, sort_unique, stable_order, strictly_increasing
from nemdash.store.lake import Lake, LakeFile, SourceRecord
from nemdash.tables import DISPATCH_PRICE, TABLES, UNIT_SCADA

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 1, 31, 22, 0)  # two hours before a month boundary
FIVE = timedelta(minutes=5)
DUIDS = ("BW01", "ER01", "HPR1", "KPP_1", "LYA1")


def scada(times: Sequence[datetime], duids: Sequence[str] = DUIDS, value: float = 0.0) -> pa.Table:
    """UNIT_SCADA rows: every DUID at every time; scadavalue = value + interval no. + DUID no."""
    rows = [
        (t, d, value + i + j / 10, None) for i, t in enumerate(times) for j, d in enumerate(duids)
    ]
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, UNIT_SCADA.arrow_schema, strict=True)],
        schema=UNIT_SCADA.arrow_schema,
    )


def intervals(first: datetime, count: int) -> list[datetime]:
    """``count`` 5-minute interval ends from ``first``."""
    return [first + i * FIVE for i in range(count)]


def source(name: str, rows: int = 0) -> SourceRecord:
    """A source record for a made-up file."""
    return SourceRecord(name, f"sha-{name}", 100, {"unit_scada": rows}, True, origin=f"/in/{name}")


def contents(lake: Lake, table: str = "unit_scada", version: int | None = None) -> pa.Table:
    """Every live row of a table, sorted by key, after checking the store's invariants."""
    spec = TABLES[table]
    files = lake.live_files(table, version=version)
    parts = []
    for f in files:
        assert f.path.is_file(), f"live file missing on disk: {f.path}"
        data = pq.read_table(f.path)
        assert data.schema.equals(spec.arrow_schema)
        assert data.num_rows == f.rows
        assert strictly_increasing(data, spec.primary_key), f"{f.path} is not sorted by key"
        times = data.column(spec.time_column)
        assert (times[0].as_py(), times[-1].as_py()) == (f.min_time, f.max_time)
        assert f.path.parent.name == f"month={f.min_time:%Y-%m}" == f.partition
        parts.append(data)
    if not parts:
        return spec.arrow_schema.empty_table()
    merged = pa.concat_tables(parts)
    ordered, dropped = sort_unique(merged, spec.primary_key)
    assert dropped == 0, f"{dropped} keys are stored twice"
    return ordered


def values(table: pa.Table) -> dict[tuple[datetime, str], float]:
    """UNIT_SCADA rows as {(settlementdate, duid): scadavalue}."""
    return {
        (t, d): v
        for t, d, v in zip(
            table.column("settlementdate").to_pylist(),
            table.column("duid").to_pylist(),
            table.column("scadavalue").to_pylist(),
            strict=True,
        )
    }


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(DataPaths(tmp_path / "data"))


# -- reading an empty store ---------------------------------------------------------------------


def test_an_empty_store_reads_as_version_zero_without_creating_anything(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path / "nowhere"))
    assert lake.version() == 0
    assert lake.live_files() == []
    assert lake.live_files(version=0) == []
    assert lake.snapshot().version == 0
    assert lake.tables() == []
    assert not lake.has_source("x", "y")
    assert lake.sources() == []
    assert lake.get_state("k") is None
    assert lake.quarantined() == []
    assert not (tmp_path / "nowhere").exists()


# -- publish and upsert -------------------------------------------------------------------------


def test_a_batch_spanning_two_months_lands_in_two_sorted_partitions(lake: Lake) -> None:
    times = intervals(T0, 36)  # 22:00 .. 00:55 next day, across 2024-02-01 00:00
    batch = scada(times[::-1], DUIDS[::-1])  # reversed: the lake must sort it
    with lake.writer() as writer:
        result = writer.publish({"unit_scada": [batch]}, [source("a", batch.num_rows)])
    assert result.version == 1
    assert result.rows == {"unit_scada": 180}
    assert result.files_added == 2
    files = lake.live_files("unit_scada")
    assert [f.partition for f in files] == ["month=2024-01", "month=2024-02"]
    # the interval ending at midnight is stored under the month of its timestamp
    assert files[0].max_time == datetime(2024, 1, 31, 23, 55)
    assert files[1].min_time == datetime(2024, 2, 1, 0, 0)
    assert [f.rows for f in files] == [24 * 5, 12 * 5]
    assert values(contents(lake)) == values(batch)
    meta = pq.ParquetFile(files[0].path).metadata
    column = meta.row_group(0).column(0)
    assert column.compression == "ZSTD"
    assert column.statistics is not None
    assert column.statistics.has_min_max
    assert lake.tables() == ["unit_scada"]


def test_a_reissued_interval_replaces_the_old_rows(lake: Lake) -> None:
    times = intervals(T0, 12)
    with lake.writer() as writer:
        writer.publish({"unit_scada": [scada(times)]}, [source("day")])
        reissue = scada(times[4:6], value=1000.0)  # two intervals, new values
        result = writer.publish({"unit_scada": [reissue]}, [source("reissue")])
    assert result.rows == {"unit_scada": 10}
    assert result.files_removed == 1  # the old file was rewritten without the re-issued rows
    assert result.files_added == 2
    stored = values(contents(lake))
    assert len(stored) == 60
    expected = values(scada(times)) | values(reissue)
    assert stored == expected
    assert stored[(times[4], "BW01")] == 1000.0


def test_republishing_the_same_rows_writes_nothing_but_still_versions(lake: Lake) -> None:
    batch = scada(intervals(T0, 6))
    with lake.writer() as writer:
        first = writer.publish({"unit_scada": [batch]}, [source("a")])
        files = lake.live_files()
        again = writer.publish({"unit_scada": [batch]}, [source("a")])
    assert again.version == first.version + 1
    assert again.rows == {"unit_scada": 0}
    assert again.unchanged == {"unit_scada": 30}
    assert (again.files_added, again.files_removed) == (0, 0)
    assert lake.live_files() == files
    assert values(contents(lake)) == values(batch)


def test_a_partial_overlap_keeps_the_untouched_rows_and_adds_the_new_ones(lake: Lake) -> None:
    original = scada(intervals(T0, 6))
    overlap = original.slice(20)  # the last two intervals, as stored
    changed = overlap.set_column(
        2,
        "scadavalue",
        pa.array(
            [
                99.0 if d == "BW01" else v
                for d, v in zip(
                    overlap["duid"].to_pylist(), overlap["scadavalue"].to_pylist(), strict=True
                )
            ]
        ),
    )
    later = T0 + 6 * FIVE
    update = pa.concat_tables(
        [changed, scada(intervals(T0 + 4 * FIVE, 3), ("NEWUNIT",)), scada([later])]
    )
    with lake.writer() as writer:
        writer.publish({"unit_scada": [original]}, [])
        result = writer.publish({"unit_scada": [update]}, [])
    assert result.unchanged == {"unit_scada": 8}  # 2 intervals x 4 DUIDs other than BW01
    assert result.rows == {"unit_scada": 2 + 3 + 5}
    stored = values(contents(lake))
    assert len(stored) == 30 + 3 + 5
    assert stored == values(original) | values(update)
    assert stored[(T0 + 5 * FIVE, "BW01")] == 99.0


def test_duplicate_keys_inside_one_publish_keep_the_later_row(lake: Lake) -> None:
    times = intervals(T0, 3)
    stale, fresh = scada(times, value=1.0), scada(times[1:], value=500.0)
    # one table holding a key twice, too
    twice = pa.concat_tables([scada(times[:1], ("BW01",), 7.0), scada(times[:1], ("BW01",), 8.0)])
    with lake.writer() as writer:
        result = writer.publish({"unit_scada": [stale, fresh, twice]}, [])
    assert result.rows == {"unit_scada": 15}
    stored = values(contents(lake))
    assert stored[(times[1], "ER01")] == 500.0 + 0 + 0.1
    assert stored[(times[0], "BW01")] == 8.0
    assert stored[(times[0], "ER01")] == 1.1
    assert lake.versions(1)[0].summary["duplicates_dropped"] == {"unit_scada": 12}


def test_multi_column_keys_keep_intervention_rows_apart(lake: Lake) -> None:
    def price(intervention: int, rrp: float) -> pa.Table:
        rows = {name: [None] * 5 for name in DISPATCH_PRICE.column_names}
        rows |= {
            "settlementdate": [datetime(2019, 4, 30, 10, 35)] * 5,
            "regionid": ["VIC1", "NSW1", "SA1", "QLD1", "TAS1"],
            "dispatchinterval": [20190430127] * 5,
            "intervention": [intervention] * 5,
            "rrp": [rrp + i for i in range(5)],
        }
        return pa.Table.from_pydict(rows, schema=DISPATCH_PRICE.arrow_schema)

    with lake.writer() as writer:
        writer.publish({"dispatch_price": [price(0, 80.0)]}, [])
        writer.publish({"dispatch_price": [price(1, 70.0)]}, [])
        writer.publish({"dispatch_price": [price(0, 90.0)]}, [])  # a re-run of the market case
    stored = contents(lake, "dispatch_price")
    assert stored.num_rows == 10
    rrp = {
        (r, i): p
        for r, i, p in zip(
            stored.column("regionid").to_pylist(),
            stored.column("intervention").to_pylist(),
            stored.column("rrp").to_pylist(),
            strict=True,
        )
    }
    assert rrp[("VIC1", 0)] == 90.0
    assert rrp[("VIC1", 1)] == 70.0


def test_each_publish_adds_one_version_and_old_versions_stay_readable(lake: Lake) -> None:
    times = intervals(T0, 6)
    with lake.writer() as writer:
        assert writer.publish({"unit_scada": [scada(times[:3])]}, []).version == 1
        assert writer.publish({}, [source("only-a-source")]).version == 2
        assert writer.publish({"unit_scada": [scada(times[2:], value=50.0)]}, []).version == 3
        assert writer.publish({"unit_scada": []}, []).version == 4
    assert lake.version() == 4
    assert [v.version for v in lake.versions()] == [4, 3, 2, 1]
    assert values(contents(lake, version=1)) == values(scada(times[:3]))
    assert values(contents(lake, version=3)) == values(scada(times[:3])) | values(
        scada(times[2:], value=50.0)
    )
    snapshot = lake.snapshot("unit_scada")
    assert snapshot.version == 4
    assert list(snapshot.files) == lake.live_files("unit_scada")
    with pytest.raises(StoreError, match="version 9 does not exist"):
        lake.live_files(version=9)


def test_sources_and_state_are_recorded_with_the_publish(lake: Lake) -> None:
    record = SourceRecord(
        "PUBLIC_ARCHIVE#DISPATCH_UNIT_SCADA#FILE01#202604010000.zip",
        "ab" * 32,
        1234,
        {"unit_scada": 2880},
        False,
        "footer says 4375306 lines, file has 2883",
        "https://nemweb.com.au/x.zip",
    )
    with lake.writer() as writer:
        result = writer.publish({}, [record], state={"feed:Dispatch_SCADA": "202604010000"})
        writer.set_state("feed:DispatchIS_Reports", "201904301035")
    assert lake.has_source(record.name, record.sha256)
    assert not lake.has_source(record.name, "other")
    (row,) = lake.sources()
    assert (row.name, row.size, row.rows, row.footer_ok) == (record.name, 1234, record.rows, False)
    assert (row.footer_detail, row.origin, row.version) == (
        record.footer_detail,
        record.origin,
        result.version,
    )
    assert row.ingested_at.utcoffset() == timedelta(hours=10)
    assert lake.get_state("feed:Dispatch_SCADA") == "202604010000"
    assert lake.states("feed:") == {
        "feed:DispatchIS_Reports": "201904301035",
        "feed:Dispatch_SCADA": "202604010000",
    }


def test_rows_that_do_not_match_the_spec_are_refused(lake: Lake) -> None:
    batch = scada(intervals(T0, 2))
    with lake.writer() as writer:
        with pytest.raises(StoreError, match="missing lastchanged"):
            writer.publish({"unit_scada": [batch.drop_columns(["lastchanged"])]}, [])
        with pytest.raises(StoreError, match="duid is large_string not string"):
            writer.publish(
                {"unit_scada": [batch.set_column(1, "duid", batch.column(1).cast("large_string"))]},
                [],
            )
        no_duid = batch.set_column(1, "duid", pa.nulls(batch.num_rows, pa.string()))
        with pytest.raises(StoreError, match="10 rows given for unit_scada have no duid"):
            writer.publish({"unit_scada": [no_duid]}, [])
        with pytest.raises(StoreError, match="not an AEMO table"):
            writer.publish({"duid_registry": [batch]}, [])
    assert lake.version() == 0


# -- compaction ---------------------------------------------------------------------------------


def test_compaction_keeps_every_row_once_and_merges_each_partition(lake: Lake) -> None:
    times = intervals(T0, 30)  # 24 intervals in January, 6 in February
    with lake.writer() as writer:
        for t in times:
            writer.publish({"unit_scada": [scada([t], value=t.minute)]}, [])
        writer.publish({"unit_scada": [scada(times[3:5], value=-1.0)]}, [])  # re-issue
        before = values(contents(lake))
        assert len(lake.live_files()) == 29  # the re-issue emptied two files and added one
        result = writer.compact()
        assert writer.compact() is None  # nothing left to merge
    assert result is not None
    assert result.files_added == 2
    assert result.rows == {"unit_scada": 150}
    assert [f.partition for f in lake.live_files()] == ["month=2024-01", "month=2024-02"]
    assert values(contents(lake)) == before
    assert lake.versions(1)[0].kind == "compact"


def test_compaction_splits_partitions_larger_than_max_file_rows(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path), max_file_rows=40)
    with lake.writer() as writer:
        for t in intervals(T0, 20):
            writer.publish({"unit_scada": [scada([t])]}, [])
        writer.compact("unit_scada")
    files = lake.live_files()
    assert [f.rows for f in files] == [40, 40, 20]
    assert contents(lake).num_rows == 100


def test_maybe_compact_waits_for_the_threshold_and_spares_large_files(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path), compact_max_files=4, compact_large_rows=20)
    with lake.writer() as writer:
        writer.publish({"unit_scada": [scada(intervals(T0, 6))]}, [])  # 30 rows: "large"
        for t in intervals(T0 + 6 * FIVE, 3):
            writer.publish({"unit_scada": [scada([t])]}, [])
        assert writer.maybe_compact() is None  # 4 files: not more than the threshold
        writer.publish({"unit_scada": [scada([T0 + 9 * FIVE])]}, [])
        large = lake.live_files()[0]
        result = writer.maybe_compact()
    assert result is not None
    assert (result.files_removed, result.files_added) == (4, 1)
    assert large in lake.live_files()
    assert contents(lake).num_rows == 50


# -- vacuum -------------------------------------------------------------------------------------


def test_vacuum_keeps_retired_files_for_the_grace_period_and_removes_orphans(lake: Lake) -> None:
    times = intervals(T0, 6)
    with lake.writer() as writer:
        writer.publish({"unit_scada": [scada(times)]}, [])
        writer.publish({"unit_scada": [scada(times[:2], value=9.0)]}, [])  # retires file 1
        retired = [p for p in lake.paths.lake.rglob("*.parquet") if p not in _live_paths(lake)]
        assert len(retired) == 1
        partition = lake.live_files()[0].path.parent
        orphan = partition / "v00000099-deadbeef.parquet"  # as a crashed publish leaves
        orphan.write_bytes(b"not committed")
        temp = partition / ".v00000099-cafef00d.parquet.tmp"
        temp.write_bytes(b"half written")
        fresh_orphan = partition / "v00000100-0badcafe.parquet"
        fresh_orphan.write_bytes(b"just written")
        an_hour_ago = time.time() - 3600
        for path in (orphan, temp):
            os.utime(path, (an_hour_ago, an_hour_ago))

        assert writer.vacuum() == 2  # the old orphans; the retired file is in its grace period
        assert retired[0].exists()
        assert fresh_orphan.exists()
        assert not orphan.exists()
        assert not temp.exists()
        assert values(contents(lake, version=1)) == values(scada(times))  # still readable

        assert writer.vacuum(grace_seconds=0) == 2  # the retired file and the new orphan
    assert not retired[0].exists()
    assert sorted(lake.paths.lake.rglob("*.parquet")) == sorted(_live_paths(lake))
    assert values(contents(lake)) == values(scada(times)) | values(scada(times[:2], value=9.0))
    with pytest.raises(StoreError, match="vacuum has deleted"):
        lake.live_files(version=1)


def _live_paths(lake: Lake) -> list[Path]:
    return [f.path for f in lake.live_files()]


def test_vacuum_removes_empty_partition_folders(lake: Lake) -> None:
    with lake.writer() as writer:
        writer.publish({"unit_scada": [scada(intervals(T0 + 23 * FIVE, 2))]}, [])
        writer.publish({"unit_scada": [scada(intervals(T0 + 23 * FIVE, 2), value=3.0)]}, [])
        assert writer.vacuum(grace_seconds=0) == 2
    folders = sorted(p.name for p in (lake.paths.lake / "unit_scada").iterdir())
    assert folders == ["month=2024-01", "month=2024-02"]


# -- whole-table replace ------------------------------------------------------------------------


def test_replace_table_swaps_the_whole_table_in_one_publish(lake: Lake) -> None:
    first = pa.table({"duid": ["BW01", "ER01"], "capacity": [660.0, 720.0]})
    second = pa.table({"duid": ["HPR1"], "capacity": [150.0]})
    with lake.writer() as writer:
        v1 = writer.replace_table("duid_registry", first, [source("list.xlsx")])
        v2 = writer.replace_table("duid_registry", second, [source("list2.xlsx")])
        with pytest.raises(StoreError, match="publish\\(\\) upserts it"):
            writer.replace_table("unit_scada", first, [])
        with pytest.raises(StoreError, match="not a usable table name"):
            writer.replace_table("../etc", first, [])
    assert (v1.version, v2.version) == (1, 2)
    assert (v2.files_added, v2.files_removed) == (1, 1)
    (live,) = lake.live_files("duid_registry")
    assert live.partition == ""
    assert live.path.parent == lake.paths.lake / "duid_registry"
    assert live.min_time is None
    assert pq.read_table(live.path).equals(second)
    (old,) = lake.live_files("duid_registry", version=1)
    assert pq.read_table(old.path).equals(first)
    assert lake.has_source("list.xlsx", "sha-list.xlsx")


# -- quarantine ---------------------------------------------------------------------------------


def test_quarantine_keeps_the_file_and_its_reason(lake: Lake) -> None:
    with lake.writer() as writer:
        writer.quarantine(
            "PUBLIC_DISPATCHSCADA_202109021255.zip",
            "HTML page instead of a zip (HTTP 403)",
            "https://nemweb.com.au/Reports/CURRENT/Dispatch_SCADA/x.zip",
            b"<html>403</html>",
        )
        writer.quarantine("../odd/name.csv", "truncated", None, None)
    first, second = lake.quarantined()[::-1]
    assert first.path is not None
    assert first.path.read_bytes() == b"<html>403</html>"
    reason = first.path.with_name(first.path.name + ".reason").read_text()
    assert "HTML page instead of a zip" in reason
    assert "nemweb.com.au" in reason
    assert second.path is None
    assert second.name == "../odd/name.csv"
    assert (lake.paths.quarantine / "__odd__name.csv.reason").is_file()
    assert first.at.utcoffset() == timedelta(hours=10)


# -- the writer lock ----------------------------------------------------------------------------

HOLDER = """
import sys
from pathlib import Path
from nemdash.config import DataPaths
from nemdash.store.lake import Lake
with Lake(DataPaths(Path(sys.argv[1]))).writer():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _start_holder(root: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_writer_in_another_process_gets_store_busy(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path), lock_timeout=0.1)
    child = _start_holder(tmp_path)
    try:
        with pytest.raises(StoreBusy) as busy, lake.writer():
            pass
        assert str(tmp_path / "writer.lock") in str(busy.value)
        assert f"PID {child.pid}" in str(busy.value)
        assert lake.version() == 0  # readers are not blocked
    finally:
        child.communicate("\n", timeout=30)
    assert child.returncode == 0
    with lake.writer() as writer:
        assert writer.publish({}, []).version == 1


def test_a_killed_writer_frees_the_lock(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path), lock_timeout=0.1)
    child = _start_holder(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    with lake.writer() as writer:
        assert writer.publish({}, []).version == 1


def test_the_writer_refuses_work_after_its_block_and_in_the_same_process(tmp_path: Path) -> None:
    lake = Lake(DataPaths(tmp_path), lock_timeout=0.1)
    with lake.writer() as writer, pytest.raises(StoreBusy), lake.writer():
        pass
    with pytest.raises(StoreError, match="used after its"):
        writer.publish({}, [])


def test_a_newer_manifest_schema_is_refused(lake: Lake) -> None:
    with lake.writer():
        pass
    with sqlite3.connect(lake.paths.state_db) as con:
        con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StoreError, match="upgrade nemdash"):
        lake.version()


# -- keys ---------------------------------------------------------------------------------------

KEYED = pa.schema([("t", pa.timestamp("us")), ("k", pa.string()), ("n", pa.int64())])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(["A", "B", "b", "Ä", ""]),
            st.integers(-(2**63), 2**63 - 1),
        ),
        max_size=40,
    )
)
def test_sort_unique_matches_a_plain_python_model(rows: list[tuple[int, str, int]]) -> None:
    base = datetime(2024, 1, 1)
    table = pa.Table.from_pylist(
        [{"t": base + i * FIVE, "k": k, "n": n} for i, k, n in rows], schema=KEYED
    )
    ordered, dropped = sort_unique(table, ["t", "k"])
    model: dict[tuple[datetime, bytes], int] = {}
    for i, k, n in rows:
        model[(base + i * FIVE, k.encode())] = n  # later rows win; text compares as bytes
    expected = [(t, k.decode(), n) for (t, k), n in sorted(model.items())]
    got = list(
        zip(
            ordered.column("t").to_pylist(),
            ordered.column("k").to_pylist(),
            ordered["n"].to_pylist(),
            strict=True,
        )
    )
    assert got == expected
    assert dropped == len(rows) - len(model)


def test_the_fallback_sort_is_stable_for_keys_that_cannot_be_packed() -> None:
    table = pa.table({"x": [2.5, 1.0, 2.5, 1.0], "row": [0, 1, 2, 3]})  # float keys: no codes
    assert stable_order(table, ["x"]).tolist() == [1, 3, 0, 2]
    ordered, dropped = sort_unique(table, ["x"])
    assert ordered.column("row").to_pylist() == [3, 2]
    assert dropped == 2


def test_a_shuffled_month_sized_key_sorts_by_counting() -> None:
    rng = np.random.default_rng(0)
    times = np.datetime64("2024-01-01T00:05", "us") + np.arange(2000) * np.timedelta64(
        300_000_000, "us"
    )
    table = pa.table(
        {
            "t": pa.array(np.repeat(times, 20), pa.timestamp("us")),
            "k": pa.array([f"U{i:02d}" for i in range(20)] * 2000),
        }
    )
    shuffled = table.take(rng.permutation(table.num_rows))
    ordered, dropped = sort_unique(shuffled, ["t", "k"])
    assert dropped == 0
    assert ordered.equals(table)


def test_row_groups_are_never_a_small_remainder() -> None:
    assert row_group_size(90_000, 250_000) == 90_000
    assert row_group_size(4_464_000, 250_000) == 262_589
    for rows in (250_000, 499_999, 500_001, 740_000, 1_000_001, 4_464_000, 9_999_999):
        size = row_group_size(rows, 250_000)
        groups = -(-rows // size)
        last = rows - size * (groups - 1)
        assert size >= 250_000
        assert last >= 100_000, rows


def test_live_files_are_absolute_and_typed(lake: Lake) -> None:
    with lake.writer() as writer:
        writer.publish({"unit_scada": [scada(intervals(T0, 2))]}, [])
    (f,) = lake.live_files("unit_scada")
    assert isinstance(f, LakeFile)
    assert f.path.is_absolute()
    assert f.bytes == f.path.stat().st_size
    assert f.added_version == 1


def test_readers_see_whole_versions_while_a_writer_publishes(lake: Lake) -> None:
    times = intervals(T0, 40)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with lake.writer() as writer:
                for i in range(len(times)):
                    # each publish adds one interval and re-issues the previous one
                    batch = scada(times[max(i - 1, 0) : i + 1], value=100.0 * i)
                    writer.publish({"unit_scada": [batch]}, [])
                    if i % 10 == 9:
                        writer.compact()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    seen = set()
    while thread.is_alive() or not seen:
        version = lake.snapshot("unit_scada").version
        if version == 0:
            continue
        stored = values(contents(lake, version=version))
        present = sorted({t for t, _ in stored})
        assert present == times[: len(present)]  # whole intervals, in order, none missing
        for t in present:  # every DUID of an interval comes from the same publish
            assert len({round(stored[(t, d)] - j / 10, 6) for j, d in enumerate(DUIDS)}) == 1
        seen.add(version)
    thread.join()
    assert not errors
    assert len(seen) > 1
    assert values(contents(lake))[(times[-1], "BW01")] == 3900.0 + 1
