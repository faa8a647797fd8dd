"""Benchmark of the MMS CSV parser against pandas, on a month of UNIT_SCADA in AEMO's format.

Run: ``.venv/bin/python benchmarks/parse_bench.py`` (a few minutes; ``--duids 50`` for a quick
look). It writes, in a temporary directory, one file as AEMO would publish a month of
DISPATCH,UNIT_SCADA: 500 DUIDs x 8928 five-minute intervals = 4.46 M D rows, quoted dates, CRLF line
ends, the LASTCHANGED column and the C header and footer. Then, in the same run, it times each case
``--repeats`` times and prints the median and the best wall time, and the CPU time of the best run
(on a shared machine other processes slow the two-thread Arrow reader more than single-threaded
pandas; the best run shows what the code does):

* ``parse_mms`` (``engine="auto"``: Arrow for the block, every value checked) from bytes in memory;
* ``pandas.read_csv`` of the D rows (C and I rows skipped, pandas' C engine, times left as
  text) and with the two time columns parsed, which is what ``parse_mms`` delivers;
* both followed by writing Parquet (``pyarrow.parquet.write_table`` / ``DataFrame.to_parquet``),
  the first and last step of a publish, to show the room the parse leaves for sorting and writing;
* the exact pure-Python reader (``engine="python"``) on the first 100,000 rows, for scale.

The issue's target: parse through publish at >= 1 M rows/s and >= 3x ``pandas.read_csv`` +
``to_parquet`` on the 2-core machine. The parse alone has to leave time for the sort and the write.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from nemdash.nemweb.mms import parse_mms

MONTH_START = datetime(2025, 12, 1, 0, 5)
COLUMNS = ["record", "report", "subtype", "version", "settlementdate", "duid", "scadavalue"]
COLUMNS += ["lastchanged"]


def write_month(path: Path, duids: int, intervals: int, *, seed: int = 0) -> int:
    """Write a month of UNIT_SCADA in AEMO's format to ``path``; returns the D rows."""
    rng = np.random.default_rng(seed)
    prefixes = ("BW", "ER", "HPR", "KPP_", "HDWF", "LYA")
    names = [f"{prefixes[i % len(prefixes)]}{i:03d}" for i in range(duids)]
    decimals = rng.integers(0, 7, size=duids * 7)
    megawatts = rng.normal(150.0, 160.0, size=duids * 7)
    # AEMO writes between 0 and 6 decimals; a pool of distinct texts keeps the writer fast.
    pool = [f"{mw:.{d}f}" if d else str(int(mw)) for mw, d in zip(megawatts, decimals, strict=True)]
    with path.open("w", encoding="ascii", newline="") as out:
        out.write(
            "C,NEMP.WORLD,DISPATCH_UNIT_SCADA,AEMO,PUBLIC,2026/01/05,10:00:00,0000000001,"
            "DISPATCH_UNIT_SCADA,0000000001\r\n"
        )
        out.write("I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED\r\n")
        k = 0
        for i in range(intervals):
            end = MONTH_START + timedelta(minutes=5 * i)
            when = end.strftime("%Y/%m/%d %H:%M:%S")
            changed = (end - timedelta(seconds=278)).strftime("%Y/%m/%d %H:%M:%S")
            lines = []
            for name in names:
                k += 1
                lines.append(
                    f'D,DISPATCH,UNIT_SCADA,1,"{when}",{name},{pool[k % len(pool)]},"{changed}"\r\n'
                )
            out.write("".join(lines))
        out.write(f'C,"END OF REPORT",{duids * intervals + 3}\r\n')
    return duids * intervals


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median and best wall time of ``repeats`` runs, and the CPU time of the best."""
    runs = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    best = min(runs)
    return statistics.median(wall for wall, _ in runs), best[0], best[1]


def pandas_read(data: bytes, rows: int, *, times: bool) -> pd.DataFrame:
    """The D rows with pandas' C reader (C and I rows skipped), times parsed or left as text."""
    frame = pd.read_csv(
        io.BytesIO(data),
        skiprows=2,
        nrows=rows,
        header=None,
        names=COLUMNS,
        usecols=COLUMNS[4:],
        engine="c",
    )
    if times:
        for column in ("settlementdate", "lastchanged"):
            frame[column] = pd.to_datetime(frame[column], format="%Y/%m/%d %H:%M:%S")
    return frame


def main() -> None:
    """Build the file, run every case, print rows per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duids", type=int, default=500, help="DUIDs (500 = a real month)")
    parser.add_argument("--intervals", type=int, default=8928, help="5-minute intervals")
    parser.add_argument("--repeats", type=int, default=5, help="runs per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nemdash-parse-bench-") as tmp:
        path = Path(tmp) / "PUBLIC_DVD_DISPATCH_UNIT_SCADA_202512010000.CSV"
        rows = write_month(path, args.duids, args.intervals)
        data = path.read_bytes()
        print(f"file: {rows:,} D rows, {len(data) / 1e6:.0f} MB, CRLF, quoted dates, LASTCHANGED")
        parsed = parse_mms(data, path.name)
        table = parsed.tables()["unit_scada"]
        assert table.num_rows == rows
        assert parsed.footer_ok
        target = Path(tmp) / "out.parquet"

        def ours_to_parquet() -> None:
            pq.write_table(parse_mms(data, path.name).tables()["unit_scada"], target)

        def pandas_to_parquet() -> None:
            pandas_read(data, rows, times=True).to_parquet(target, index=False)

        head = data[: data.index(b"\n", len(data) * 100_000 // max(rows, 1)) + 1]
        head_rows = head.count(b"\nD,")
        head += b'C,"END OF REPORT",0\r\n'
        cases: list[tuple[str, Callable[[], object], int]] = [
            ("parse_mms (auto: Arrow, checked)", lambda: parse_mms(data, path.name), rows),
            ("pandas.read_csv, times as text", lambda: pandas_read(data, rows, times=False), rows),
            ("pandas.read_csv + to_datetime", lambda: pandas_read(data, rows, times=True), rows),
            ("parse_mms + write_table", ours_to_parquet, rows),
            ("pandas.read_csv + to_parquet", pandas_to_parquet, rows),
            (
                f"parse_mms engine=python ({head_rows:,} rows)",
                lambda: parse_mms(head, path.name, engine="python"),
                head_rows,
            ),
        ]
        results: dict[str, float] = {}
        print(f"{'case':<42} {'median':>7} {'best':>7} {'cpu':>7}  M rows/s (best)")
        for label, run, count in cases:
            median, best, cpu = timed(run, args.repeats)
            results[label] = best
            print(f"{label:<42} {median:6.2f}s {best:6.2f}s {cpu:6.2f}s  {count / best / 1e6:6.2f}")
        ours = results["parse_mms (auto: Arrow, checked)"]
        to_parquet = results["pandas.read_csv + to_parquet"] / results["parse_mms + write_table"]
        print(
            f"best runs: parse_mms is {results['pandas.read_csv, times as text'] / ours:.1f}x "
            f"pandas.read_csv (times as text), "
            f"{results['pandas.read_csv + to_datetime'] / ours:.1f}x with times parsed; "
            f"to Parquet {to_parquet:.1f}x"
        )


if __name__ == "__main__":
    main()
