"""Issue 5's query benchmark: every query function over every preset range, on a built store.

Run: ``.venv/bin/python benchmarks/query_bench.py --data-dir DIR`` on a store (the five-year
synthetic NEM: ``NEMDASH_DEMO_DATA_DIR=DIR/.. nemdash demo --years 5 --units 500 --no-serve``;
or ``--build-days N`` to build a small demo store in a temporary folder first). For each function
and each range (1 day, 7, 30, 90, 365 days and all, ending at the store's last interval) it times:

* **uncached**: the function itself (``fn.uncached``), ``--repeats`` times: p50 and p95;
* **cached**: the same call through the cache after one warm call: p95 (a memory hit);

and, side by side in the same run, two baselines for the questions users ask most (the price
series and the NEM generation mix at the chosen resolution):

* **DuckDB straight over the 5-minute lake** (no rollups): the same answer computed from
  ``dispatch_price`` and ``unit_scada`` joined to the registry;
* **pandas in memory** (the seeds' approach): the 5-minute frames loaded once (load time reported
  apart), then filtered and resampled per call. SCADA is loaded for the last 90 days only, as five
  years of it do not fit comfortably in memory; longer ranges say "n/a".

It reports the process's peak RSS at the end. Output: a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from nemdash import nemtime
from nemdash.config import Settings
from nemdash.query import analysis, generation, interconnectors, prices
from nemdash.query.connection import Database
from nemdash.query.hotset import PRESETS, preset_range
from nemdash.query.resolution import choose_resolution

REGIONS = ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]

FUNCTIONS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "price_series": (prices.price_series, {"regions": REGIONS}),
    "price_stats": (prices.price_stats, {"regions": REGIONS}),
    "price_bands": (prices.price_bands, {"regions": REGIONS}),
    "price_time_of_day": (prices.price_time_of_day, {"regions": REGIONS}),
    "high_price_events": (prices.high_price_events, {"regions": REGIONS}),
    "generation_mix": (generation.generation_mix, {"region": "NEM"}),
    "generation_stats": (generation.generation_stats, {"region": "NEM"}),
    "capacity_utilisation": (generation.capacity_utilisation, {"region": "NEM"}),
    "generation_time_of_day": (generation.generation_time_of_day, {"region": "NEM"}),
    "renewable_share": (generation.renewable_share, {"region": "NEM"}),
    "interconnector_flows": (interconnectors.interconnector_flows, {"region": "VIC1"}),
    "pivot(region,fuel)": (analysis.pivot, {"group_by": ("region", "fuel")}),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timings(call: Callable[[], object], repeats: int) -> list[float]:
    found = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def duck_price_series(db: Database, start: datetime, end: datetime, seconds: int) -> object:
    """The price series straight from the 5-minute lake: bucket means per region."""
    return db.query(
        """
        SELECT regionid, to_timestamp(ceil(epoch(settlementdate) / $s) * $s) AS bucket,
               avg(rrp) AS rrp, min(rrp), max(rrp)
        FROM dispatch_price
        WHERE intervention = 0 AND settlementdate > $a AND settlementdate <= $b
        GROUP BY ALL ORDER BY ALL
        """,
        {"s": seconds, "a": nemtime.to_naive(start), "b": nemtime.to_naive(end)},
    ).table


def duck_generation_mix(db: Database, start: datetime, end: datetime, seconds: int) -> object:
    """The NEM mix straight from 5-minute SCADA joined to the registry."""
    return db.query(
        """
        WITH s AS (
            SELECT settlementdate AS t, fuel, sum(scadavalue) AS mw
            FROM unit_scada JOIN duid_registry USING (duid)
            WHERE settlementdate > $a AND settlementdate <= $b
            GROUP BY ALL
        )
        SELECT fuel, to_timestamp(ceil(epoch(t) / $s) * $s) AS bucket, avg(mw) AS mw
        FROM s GROUP BY ALL ORDER BY ALL
        """,
        {"s": seconds, "a": nemtime.to_naive(start), "b": nemtime.to_naive(end)},
    ).table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("NEMDASH_BENCH_STORE") or None,
        help="a built store (env NEMDASH_BENCH_STORE; default: build a small demo store)",
    )
    parser.add_argument("--build-days", type=int, default=14, help="days of the built store")
    parser.add_argument("--repeats", type=int, default=7, help="calls per case")
    args = parser.parse_args()
    if args.data_dir is None:
        from nemdash.demo.build import build_demo_store

        tmp = Path(tempfile.mkdtemp(prefix="nemdash-query-bench-"))
        base = Settings(data_dir=tmp / "real", demo_data_dir=tmp / "demo")
        data_dir = build_demo_store(base, days=args.build_days, units=450).settings.data_dir
    else:
        data_dir = args.data_dir
    db = Database(Settings(data_dir=data_dir))
    db.refresh()
    rows = db.query("SELECT count(*) AS n FROM unit_scada").table.column(0)[0].as_py()
    span = {p: preset_range(db, p) for p in PRESETS}
    lines = [
        "## Queries (issue 5): every function over every preset range",
        "",
        f"Store: {rows:,} SCADA rows, {span['all'][0]:%Y-%m-%d} .. {span['all'][1]:%Y-%m-%d}. "
        f"{args.repeats} calls per case; milliseconds. Command: "
        "`.venv/bin/python benchmarks/query_bench.py --data-dir DIR`.",
        "",
        "| function | " + " | ".join(PRESETS) + " |",
        "|---|" + "---:|" * len(PRESETS),
    ]
    worst_uncached = worst_cached = 0.0
    for name, (fn, kwargs) in FUNCTIONS.items():
        cells = []
        for preset in PRESETS:
            start, end = span[preset]
            call_args = {**kwargs, "start": start, "end": end}
            raw = timings(partial(fn.uncached, db, **call_args), args.repeats)
            fn(db, **call_args)
            hit = timings(partial(fn, db, **call_args), args.repeats * 3)
            p95, hit95 = percentile(raw, 0.95), percentile(hit, 0.95)
            worst_uncached, worst_cached = max(worst_uncached, p95), max(worst_cached, hit95)
            cells.append(f"{p95 * 1000:.0f} / {hit95 * 1000:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Each cell: uncached p95 / cached p95 (ms). Targets: 100 ms uncached, 5 ms cached. "
        f"Worst here: {worst_uncached * 1000:.0f} ms uncached, "
        f"{worst_cached * 1000:.2f} ms cached.",
        "",
    ]
    # Baselines for the two most asked questions.
    started = time.perf_counter()
    price_frame = db.query(
        "SELECT settlementdate, regionid, rrp FROM dispatch_price WHERE intervention = 0",
        row_cap=100_000_000,
    ).table.to_pandas()
    cutoff = nemtime.to_naive(span["all"][1]) - timedelta(days=90)
    scada_frame = db.query(
        "SELECT settlementdate, fuel, scadavalue FROM unit_scada JOIN duid_registry USING (duid) "
        "WHERE settlementdate > ?",
        [cutoff],
        row_cap=200_000_000,
    ).table.to_pandas()
    load_seconds = time.perf_counter() - started

    def pandas_prices(start: datetime, end: datetime, seconds: int) -> object:
        a, b = nemtime.to_naive(start), nemtime.to_naive(end)
        part = price_frame[(price_frame.settlementdate > a) & (price_frame.settlementdate <= b)]
        bucket = part.settlementdate.dt.ceil(f"{seconds}s")
        return part.groupby([part.regionid, bucket]).rrp.agg(["mean", "min", "max"])

    def pandas_mix(start: datetime, end: datetime, seconds: int) -> object:
        a, b = nemtime.to_naive(start), nemtime.to_naive(end)
        part = scada_frame[(scada_frame.settlementdate > a) & (scada_frame.settlementdate <= b)]
        fleet = part.groupby(["settlementdate", "fuel"]).scadavalue.sum().reset_index()
        bucket = fleet.settlementdate.dt.ceil(f"{seconds}s")
        return fleet.groupby([fleet.fuel, bucket]).scadavalue.mean()

    lines += [
        "Baselines on the same store, same run (p95 ms; ratio = baseline / nemdash uncached):",
        "",
        "| question | range | nemdash | DuckDB over 5-min lake | pandas in memory |",
        "|---|---|---:|---:|---:|",
    ]
    cases: list[tuple[str, Callable[..., Any], dict[str, Any], Callable[..., object], Any]] = [
        (
            "price series",
            prices.price_series,
            {"regions": REGIONS},
            duck_price_series,
            pandas_prices,
        ),
        (
            "NEM generation mix",
            generation.generation_mix,
            {"region": "NEM"},
            duck_generation_mix,
            pandas_mix,
        ),
    ]
    for label, fn, kwargs, duck, pandas_fn in cases:
        for preset in ("7d", "90d", "1y", "all"):
            start, end = span[preset]
            seconds = int(choose_resolution(start, end).nominal.total_seconds())
            uncached = partial(fn.uncached, db, **kwargs, start=start, end=end)
            ours = percentile(timings(uncached, args.repeats), 0.95)
            theirs = percentile(timings(partial(duck, db, start, end, seconds), 3), 0.95)
            in_memory = "n/a (not loaded)"
            if label == "price series" or preset in ("7d", "90d"):
                pd_time = percentile(timings(partial(pandas_fn, start, end, seconds), 3), 0.95)
                in_memory = f"{pd_time * 1000:.0f} ({pd_time / ours:.1f}x)"
            lines.append(
                f"| {label} | {preset} | {ours * 1000:.0f} | {theirs * 1000:.0f} "
                f"({theirs / ours:.1f}x) | {in_memory} |"
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += [
        "",
        f"pandas load of the frames (all prices, 90 days of SCADA): {load_seconds:.1f} s. "
        f"Peak RSS of this benchmark process (pandas frames included): {rss:.0f} MB.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
