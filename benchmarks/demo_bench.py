"""How fast the synthetic NEM is written, and what that means for five years of 500 units.

Issue 4 asks for five years of 5-minute data for ~500 units (about 263 million UNIT_SCADA rows)
in at most 15 minutes on the project's 2-core machine. A tree has two parts whose costs differ:

* the **MMSDM months** (all but the last month or so): one big zip per table and month, streamed;
  their cost grows with the number of SCADA rows;
* the **recent part**: ``archive_days`` of daily zips of 5-minute zips and ``current_days`` of
  5-minute zips; a fixed cost of tens of thousands of small files, whatever the span.

This script builds both (``--months`` months of MMSDM, then a 32-day recent part) into a
temporary directory, reports throughput in rows per second, and extrapolates to the full span::

    .venv/bin/python benchmarks/demo_bench.py                 # 2 months x 500 units
    .venv/bin/python benchmarks/demo_bench.py --months 1      # quicker
    .venv/bin/python benchmarks/demo_bench.py --full          # really write 5 years (~10 min)

Timings are wall-clock on whatever else the machine is doing; the CPU time is printed too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from nemdash.demo.tree import TreeSummary, build_tree

#: 5-minute intervals in five years (1,826 days) times 500 units.
FIVE_YEARS_INTERVALS = 1826 * 288


def _run(
    root: Path, start: datetime, end: datetime, **kwargs: object
) -> tuple[TreeSummary, float, float]:
    """Build a tree, returning its summary, wall seconds and CPU seconds (all threads)."""
    shutil.rmtree(root, ignore_errors=True)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = build_tree(root, start, end, **kwargs)  # type: ignore[arg-type]
    return summary, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=500, help="DUIDs in the fleet (500)")
    parser.add_argument("--months", type=int, default=2, help="MMSDM months to time (2)")
    parser.add_argument("--seed", type=int, default=1, help="fleet and weather seed (1)")
    parser.add_argument("--full", action="store_true", help="also write five whole years")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--keep", type=Path, help="build under this folder and keep it")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="nemdash-demo-bench-"))
    results: dict[str, object] = {"units": args.units, "months": args.months}
    try:
        # MMSDM: whole months from 2024-01; the end is just past the last month so that the
        # archive and current parts are a single market day.
        end_month = datetime(2024 + args.months // 12, args.months % 12 + 1, 1, 4, 5)
        mmsdm, wall, cpu = _run(
            base / "mmsdm",
            datetime(2024, 1, 1),
            end_month,
            units=args.units,
            seed=args.seed,
            current_days=0,
            archive_days=0,
        )
        scada = mmsdm.rows["unit_scada"]
        total_rows = sum(mmsdm.rows.values())
        rate = scada / wall
        results.update(
            mmsdm_seconds=round(wall, 1),
            mmsdm_cpu_seconds=round(cpu, 1),
            mmsdm_scada_rows=scada,
            mmsdm_rows=total_rows,
            mmsdm_scada_rows_per_second=round(rate),
            mmsdm_rows_per_second=round(total_rows / wall),
            mmsdm_megabytes=round(mmsdm.bytes / 1e6, 1),
        )
        print(
            f"MMSDM {args.months} month(s) x {args.units} units: {scada:,} SCADA rows "
            f"({total_rows:,} rows in all) in {wall:.1f} s wall / {cpu:.1f} s CPU = "
            f"{rate:,.0f} SCADA rows/s; {mmsdm.bytes / 1e6:,.0f} MB"
        )

        # The recent part of a tree: 30 archived market days and 2 days of 5-minute files.
        recent, recent_wall, recent_cpu = _run(
            base / "recent",
            datetime(2025, 11, 1),
            datetime(2025, 12, 3, 12, 0),
            units=args.units,
            seed=args.seed,
            current_days=2,
            archive_days=30,
        )
        results.update(
            recent_seconds=round(recent_wall, 1),
            recent_cpu_seconds=round(recent_cpu, 1),
            recent_files=recent.files,
        )
        print(
            f"ARCHIVE + CURRENT (32 days, {recent.files:,} files): {recent_wall:.1f} s wall / "
            f"{recent_cpu:.1f} s CPU"
        )

        five_year_scada = FIVE_YEARS_INTERVALS * args.units
        estimate = five_year_scada / rate + recent_wall
        results.update(
            five_year_scada_rows=five_year_scada, five_year_estimate_seconds=round(estimate)
        )
        print(
            f"Five years x {args.units} units ({five_year_scada:,} SCADA rows): about "
            f"{estimate / 60:.1f} minutes (target: 15)"
        )

        if args.full:
            full, full_wall, full_cpu = _run(
                base / "full",
                datetime(2021, 1, 1),
                datetime(2026, 1, 1, 12, 0),
                units=args.units,
                seed=args.seed,
                progress=_print_progress,
            )
            results.update(
                full_seconds=round(full_wall),
                full_cpu_seconds=round(full_cpu),
                full_scada_rows=full.rows["unit_scada"],
                full_gigabytes=round(full.bytes / 1e9, 2),
            )
            print(
                f"\nFive years written: {full.rows['unit_scada']:,} SCADA rows, {full.files:,} "
                f"files, {full.bytes / 1e9:.2f} GB in {full_wall / 60:.1f} min wall / "
                f"{full_cpu / 60:.1f} min CPU"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _print_progress(stage: str, done: int, total: int) -> None:
    """Progress of the full run, one line per step."""
    print(f"  {stage}: {done}/{total}", flush=True)


if __name__ == "__main__":
    main()
