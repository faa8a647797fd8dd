"""Benchmark of the Parquet lake: month publishes, live 5-minute publishes, upserts, compaction.

Run: ``.venv/bin/python benchmarks/lake_bench.py`` (about a minute; ``--quick`` for a tenth of the
DUIDs). Everything is built in memory with the spec's schema (UNIT_SCADA: 500 DUIDs x 8928
five-minute intervals = 4.46 M rows, one month) and written to a temporary data directory, so
the figures measure the lake, not a parser. Each case reports the median of its repeats.

Cases:

* a month of UNIT_SCADA published into an empty store, in AEMO's order (sorted by time, then
  DUID, as the monthly archive comes) and shuffled (the sort then does the work);
* 500-row live publishes (one new interval each) into a store holding the month, which must not
  touch the month's file (the overlap check uses the manifest's min/max times);
* a re-issued interval with changed values (the month file is rewritten without its old rows)
  and an identical re-publish of one interval (nothing written);
* compaction of a day of 288 five-minute files;
* the sorting and writing alternatives the design had to choose between: ``pc.sort_indices``,
  the packed-key stable sort of :mod:`nemdash.store.keys`, DuckDB ``ORDER BY`` (reading the Arrow
  table zero-copy), and pyarrow ``write_table`` against DuckDB ``COPY ... TO`` Parquet.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nemdash.config import DataPaths
from nemdash.store.keys import sort_unique, stable_order, strictly_increasing
from nemdash.store.lake import Lake
from nemdash.tables import UNIT_SCADA

MONTH_START = datetime(2024, 1, 1, 0, 5)
INTERVALS = 8928  # 31 days x 288
KEY = list(UNIT_SCADA.primary_key)
TEXT_AND_TIMES: Any = ["settlementdate", "duid", "lastchanged"]  # the stubs expect a bool


def scada(first: datetime, intervals: int, duids: int, *, seed: int = 0) -> pa.Table:
    """UNIT_SCADA rows for ``intervals`` 5-minute intervals from ``first``, sorted by key."""
    rng = np.random.default_rng(seed)
    names = np.array([f"UNIT{i:04d}" for i in range(duids)], dtype=object)
    start = np.datetime64(first, "us")
    times = start + np.arange(intervals, dtype=np.int64) * np.timedelta64(5, "m")
    rows = intervals * duids
    columns: list[pa.Array[Any]] = [
        pa.array(np.repeat(times, duids), pa.timestamp("us")),
        pa.array(np.tile(names, intervals), pa.string()),
        pa.array(rng.normal(100.0, 80.0, rows)),
        pa.array(np.repeat(times, duids), pa.timestamp("us")),
    ]
    return pa.Table.from_arrays(columns, schema=UNIT_SCADA.arrow_schema)


def median_time(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_lake(root: Path, name: str) -> Lake:
    """A lake in a new empty data directory."""
    return Lake(DataPaths(root / name))


def report(label: str, seconds: float, rows: int | None = None) -> None:
    """Print one result line."""
    rate = f"  {rows / seconds / 1e6:6.2f} M rows/s" if rows else ""
    print(f"{label:<62} {seconds * 1000:9.1f} ms{rate}")


def bench_month(root: Path, month: pa.Table, repeats: int) -> None:
    """A month into an empty store, sorted and shuffled."""
    shuffled = month.take(np.random.default_rng(1).permutation(month.num_rows))
    runs = iter(range(1000))
    for label, table in (("AEMO order", month), ("shuffled", shuffled)):

        def publish(table: pa.Table = table) -> None:
            lake = fresh_lake(root, f"month-{next(runs)}")
            with lake.writer() as writer:
                writer.publish({"unit_scada": [table]}, [])

        seconds = median_time(publish, repeats)
        report(f"month of UNIT_SCADA into an empty store ({label})", seconds, month.num_rows)


def bench_live(root: Path, month: pa.Table, duids: int, repeats: int) -> None:
    """Live publishes, a re-issued interval and an identical re-publish into a full month."""
    live = 12
    history = month.slice(0, month.num_rows - live * duids)  # the month but its last hour
    lake = fresh_lake(root, "live")
    with lake.writer() as writer:
        writer.publish({"unit_scada": [history]}, [])
        big = lake.live_files("unit_scada")[0]
        times = []
        for i in range(live):
            rows = month.slice(history.num_rows + i * duids, duids)
            start = time.perf_counter()
            writer.publish({"unit_scada": [rows]}, [])
            times.append(time.perf_counter() - start)
        assert big in lake.live_files("unit_scada"), "a live publish rewrote the month file"
        report(f"{duids}-row live publish into the month (median of {live})", np.median(times))

        middle = history.slice(history.num_rows // 2 // duids * duids, duids)
        report(
            f"identical re-publish of one interval ({duids} rows, nothing written)",
            median_time(lambda: writer.publish({"unit_scada": [middle]}, []), repeats),
        )
        # Each repeat re-issues another interval of the month file, so each rewrites that file.
        reissues = []
        for i in range(repeats):
            old = history.slice((100 + i) * duids, duids)
            reissues.append(old.set_column(2, "scadavalue", pc.add(old.column("scadavalue"), 1.0)))
        pending = iter(reissues)
        report(
            "re-issued interval with changed values (month file rewritten)",
            median_time(lambda: writer.publish({"unit_scada": [next(pending)]}, []), repeats),
        )


def bench_compaction(root: Path, duids: int, repeats: int) -> None:
    """A day of 288 five-minute files merged into one."""
    day = scada(MONTH_START, 288, duids, seed=2)
    seconds = []
    for run in range(repeats):
        lake = fresh_lake(root, f"compact-{run}")
        with lake.writer() as writer:
            for i in range(288):
                writer.publish({"unit_scada": [day.slice(i * duids, duids)]}, [])
            start = time.perf_counter()
            result = writer.compact()
            seconds.append(time.perf_counter() - start)
            assert result is not None
            assert result.files_removed == 288
    report("compact a day of 288 five-minute files into one", statistics.median(seconds))


def bench_alternatives(root: Path, month: pa.Table, repeats: int) -> None:
    """Sorting and writing: pyarrow against DuckDB."""
    shuffled = month.take(np.random.default_rng(1).permutation(month.num_rows))
    rows = month.num_rows
    report(
        "sortedness check (sorted month, one vectorised pass)",
        median_time(lambda: strictly_increasing(month, KEY), repeats),
        rows,
    )
    report(
        "sort_unique on the sorted month (check only)",
        median_time(lambda: sort_unique(month, KEY), repeats),
        rows,
    )
    sort_keys: list[tuple[str, Literal["ascending", "descending"]]] = [
        (k, "ascending") for k in KEY
    ]
    report(
        "pyarrow sort_indices + take (shuffled)",
        median_time(lambda: shuffled.take(pc.sort_indices(shuffled, sort_keys=sort_keys)), repeats),
        rows,
    )
    report(
        "packed-key stable sort + take (shuffled, nemdash.store.keys)",
        median_time(lambda: shuffled.take(stable_order(shuffled, KEY)), repeats),
        rows,
    )
    report(
        "sort_unique (shuffled: sort + duplicate check)",
        median_time(lambda: sort_unique(shuffled, KEY), repeats),
        rows,
    )
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("shuffled", shuffled)
    order = ", ".join(KEY)
    report(
        "DuckDB ORDER BY to Arrow (shuffled)",
        median_time(
            lambda: con.sql(f"SELECT * FROM shuffled ORDER BY {order}").to_arrow_table(), repeats
        ),
        rows,
    )
    report(
        "DuckDB dedupe (QUALIFY row_number) + ORDER BY (shuffled)",
        median_time(
            lambda: con.sql(
                "SELECT * EXCLUDE (seq) FROM (SELECT *, row_number() OVER () AS seq FROM shuffled) "
                f"QUALIFY row_number() OVER (PARTITION BY {order} ORDER BY seq DESC) = 1 "
                f"ORDER BY {order}"
            ).to_arrow_table(),
            repeats,
        ),
        rows,
    )
    target = root / "write.parquet"
    report(
        "pyarrow write_table zstd, dictionary on every column (default)",
        median_time(
            lambda: pq.write_table(month, target, compression="zstd", row_group_size=262_144),
            repeats,
        ),
        rows,
    )
    report(
        "pyarrow write_table zstd, no dictionary for floats (the lake's)",
        median_time(
            lambda: pq.write_table(
                month,
                target,
                compression="zstd",
                row_group_size=262_144,
                use_dictionary=TEXT_AND_TIMES,
            ),
            repeats,
        ),
        rows,
    )
    con.register("month", month)
    report(
        "DuckDB COPY ... ORDER BY TO parquet zstd (shuffled)",
        median_time(
            lambda: con.execute(
                f"COPY (SELECT * FROM shuffled ORDER BY {order}) TO '{target}' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144)"
            ),
            repeats,
        ),
        rows,
    )
    report(
        "DuckDB COPY TO parquet zstd (sorted month, no ORDER BY)",
        median_time(
            lambda: con.execute(
                f"COPY month TO '{target}' (FORMAT parquet, COMPRESSION zstd, "
                "ROW_GROUP_SIZE 262144)"
            ),
            repeats,
        ),
        rows,
    )
    con.close()


def main() -> None:
    """Run every case and print one line per result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 DUIDs instead of 500")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median shown)")
    args = parser.parse_args()
    duids = 50 if args.quick else 500
    month = scada(MONTH_START, INTERVALS, duids)
    print(f"UNIT_SCADA month: {month.num_rows:,} rows ({duids} DUIDs x {INTERVALS} intervals)")
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as tmp:
        root = Path(tmp)
        bench_month(root, month, args.repeats)
        bench_live(root, month, duids, args.repeats)
        bench_compaction(root, duids, args.repeats)
        bench_alternatives(root, month, args.repeats)


if __name__ == "__main__":
    main()
