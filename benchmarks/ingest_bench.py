"""Issue 3's ingest benchmark: a month of UNIT_SCADA from AEMO's zip to a published lake.

Run: ``.venv/bin/python benchmarks/ingest_bench.py`` (a few minutes; ``--duids 50`` for a quick
look). In one run, on the same file, it times (median of ``--repeats``, each into a fresh store):

* **nemdash**: ``ingest_paths`` on the monthly archive zip (``PUBLIC_ARCHIVE#DISPATCH_UNIT_SCADA
  #FILE01#...zip`` holding 4.46 M D rows as AEMO writes them: quoted dates, CRLF, LASTCHANGED):
  unzip, SHA-256, parse, validate, sort by key, write Parquet, commit the manifest;
* **pandas** (the usual approach, e.g. NEMOSIS): ``pandas.read_csv`` of the D rows from the same
  zip, then ``to_parquet``; once with the times left as text and once with them parsed (the same
  typed result nemdash stores);
* **DuckDB**: ``read_csv`` of the unzipped CSV and a sorted ``COPY ... TO`` Parquet (the ground
  to beat named in ARCHITECTURE.md; it is given the CSV already unzipped);
* **one live cycle**: the real collector polling a local NEMWEB mirror that serves one new
  5-minute interval of all four CURRENT feeds (AEMO's own files from ../shared/fixtures), into a
  store that already holds the month: list, download, parse, publish, state.

It prints a Markdown section; ``benchmarks/run.py`` puts it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb

from nemdash.collector.loop import Collector
from nemdash.config import Settings
from nemdash.nemweb.mirror import NemwebMirror
from nemdash.store.ingest import ingest_paths
from nemdash.store.lake import Lake
from nemdash.store.rollups import rebuild_rollups

sys.path.insert(0, str(Path(__file__).parent))
from parse_bench import pandas_read, write_month

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nemweb"
LIVE_FILES = (
    "Reports/CURRENT/DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip",
    "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip",
    "Reports/CURRENT/TradingIS_Reports/PUBLIC_TRADINGIS_202403031335_0000000412683134.zip",
    "Reports/CURRENT/ROOFTOP_PV/ACTUAL/"
    "PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240303200000_0000000412707330.zip",
)


def timed(run: Callable[[int], object], repeats: int) -> float:
    """Median wall time of ``run(i)`` over ``repeats`` runs."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_archive(tmp: Path, duids: int, intervals: int) -> tuple[Path, Path, int]:
    """Write the month as AEMO's monthly archive zip (and keep the CSV for DuckDB)."""
    csv_path = tmp / "PUBLIC_ARCHIVE#DISPATCH_UNIT_SCADA#FILE01#202512010000.CSV"
    rows = write_month(csv_path, duids, intervals)
    zip_path = tmp / "PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202512010000.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(csv_path, csv_path.name)
    return zip_path, csv_path, rows


def nemdash_ingest(zip_path: Path, root: Path) -> None:
    """What ``nemdash ingest`` does with the file, into a fresh store."""
    settings = Settings(data_dir=root)
    lake = Lake(settings.paths)
    with lake.writer() as writer:
        report = ingest_paths(writer, [zip_path])
    assert report.ingested == 1, report


def pandas_ingest(zip_path: Path, out: Path, rows: int, *, times: bool) -> None:
    """The usual approach: pandas reads the D rows from the zip, then writes Parquet."""
    with zipfile.ZipFile(zip_path) as zf:
        data = zf.read(zf.namelist()[0])
    pandas_read(data, rows, times=times).to_parquet(out, index=False)


def duckdb_ingest(csv_path: Path, out: Path) -> None:
    """DuckDB's reader on the unzipped CSV and a sorted COPY to Parquet."""
    con = duckdb.connect(config={"threads": 2})
    con.execute(
        f"""
        COPY (
            SELECT column4 AS settlementdate, column5 AS duid, column6 AS scadavalue,
                   column7 AS lastchanged
            FROM read_csv('{csv_path}', header = false, skip = 2, columns = {{
                'column0': 'VARCHAR', 'column1': 'VARCHAR', 'column2': 'VARCHAR',
                'column3': 'VARCHAR', 'column4': 'TIMESTAMP', 'column5': 'VARCHAR',
                'column6': 'DOUBLE', 'column7': 'TIMESTAMP'}},
                timestampformat = '%Y/%m/%d %H:%M:%S', null_padding = true)
            WHERE column0 = 'D'
            ORDER BY settlementdate, duid
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
        """
    )
    con.close()


def with_rollups(root: Path) -> None:
    """Build the rollups of a store, as a collecting store always has them."""
    lake = Lake(Settings(data_dir=root).paths)
    with lake.writer() as writer:
        rebuild_rollups(writer, lake)


def live_cycle(month_store: Path, tmp: Path, i: int) -> float:
    """Seconds for one collector cycle (rollups included) into a copy of the month store."""
    root = tmp / f"live-{i}"
    shutil.copytree(month_store, root / "data")
    tree = root / "nemweb"
    for rel in LIVE_FILES:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / rel, tree / rel)
    with NemwebMirror(tree) as mirror:
        settings = Settings(data_dir=root / "data", nemweb_url=mirror.url, keep_raw=True)
        collector = Collector(settings, Lake(settings.paths))
        try:
            start = time.perf_counter()
            report = collector.run_cycle()
            seconds = time.perf_counter() - start
        finally:
            collector.close()
    assert report.ingested == len(LIVE_FILES), report
    return seconds


def main() -> None:
    """Build the archive, run every case, print a Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duids", type=int, default=500, help="DUIDs (500 = a real month)")
    parser.add_argument("--intervals", type=int, default=8928, help="5-minute intervals")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nemdash-ingest-bench-") as name:
        tmp = Path(name)
        zip_path, csv_path, rows = make_archive(tmp, args.duids, args.intervals)
        mb = csv_path.stat().st_size / 1e6
        zmb = zip_path.stat().st_size / 1e6
        r = args.repeats
        ours = timed(lambda i: nemdash_ingest(zip_path, tmp / f"store-{i}"), r)
        pd_text = timed(lambda i: pandas_ingest(zip_path, tmp / "p.parquet", rows, times=False), r)
        pd_typed = timed(lambda i: pandas_ingest(zip_path, tmp / "p.parquet", rows, times=True), r)
        duck = timed(lambda i: duckdb_ingest(csv_path, tmp / "d.parquet"), r)
        if FIXTURES.is_dir():
            # The live store is in steady state: its rollups are up to date before the cycle.
            with_rollups(tmp / "store-0")
            live_cycle(tmp / "store-0", tmp, -1)  # untimed: first-use imports of the process
            live: float | None = statistics.median(
                live_cycle(tmp / "store-0", tmp, i) for i in range(r)
            )
        else:
            live = None
    lines = [
        "## Ingest (issue 3): a month of UNIT_SCADA, zip to published lake",
        "",
        f"File: {rows:,} D rows, {mb:.0f} MB of CSV in a {zmb:.0f} MB zip (AEMO's format: quoted "
        f"dates, CRLF, LASTCHANGED). Median of {r} runs, each into a fresh store. "
        "Command: `.venv/bin/python benchmarks/ingest_bench.py`.",
        "",
        "| approach | seconds | M rows/s | nemdash is faster by |",
        "|---|---:|---:|---:|",
    ]
    for label, seconds in (
        ("nemdash ingest (unzip, parse, check, sort, write, commit)", ours),
        ("pandas.read_csv (times as text) + to_parquet", pd_text),
        ("pandas.read_csv + to_datetime + to_parquet (typed, like nemdash)", pd_typed),
        ("DuckDB read_csv (CSV pre-unzipped) + sorted COPY to Parquet", duck),
    ):
        ratio = "-" if seconds is ours else f"{seconds / ours:.1f}x"
        lines.append(f"| {label} | {seconds:.2f} | {rows / seconds / 1e6:.2f} | {ratio} |")
    lines.append("")
    if live is None:
        lines.append("Live cycle: skipped (../shared/fixtures not found).")
    else:
        lines.append(
            f"One live 5-minute cycle (the real collector, four feeds served by a local mirror, "
            f"into the store holding the month and its rollups; listing, download, parse, "
            f"publish, rollup update, state): **{live * 1000:.0f} ms** (median of {r}); "
            "target under 1 s."
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
