"""Run the benchmarks and write docs/benchmarks.md (the machine, the data size, the commands).

Usage: ``.venv/bin/python benchmarks/run.py [--quick] [--only NAME ...]`` (or ``bash
benchmarks/run``). Each benchmark runs as its own process, in sequence; its Markdown (or, for a
plain-text report, its output in a code block) goes into the report under the command that made it.
The machine is shared and noisy: every benchmark compares nemdash with a baseline in the same run
and reports the ratio, and the load average before and after each run is recorded beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"

#: name -> (script, full-size arguments, quick arguments, what it measures)
BENCHMARKS: dict[str, tuple[str, list[str], list[str], str]] = {
    "ingest": (
        "ingest_bench.py",
        [],
        ["--duids", "50", "--repeats", "1"],
        "issue 3: a month of UNIT_SCADA, zip to published lake, vs pandas and DuckDB; live cycle",
    ),
    "parse": (
        "parse_bench.py",
        ["--repeats", "3"],
        ["--duids", "50", "--repeats", "1"],
        "issue 3: the MMS parser alone vs pandas.read_csv",
    ),
    "demo": (
        "demo_bench.py",
        [],
        ["--months", "1", "--units", "100"],
        "issue 4: synthetic NEM generation throughput, extrapolated to five years x 500 units",
    ),
    "rollup": (
        "rollup_bench.py",
        [],
        ["--units", "50", "--days", "3", "--intervals", "6"],
        "issue 5: rollup rebuild of a month and one new interval's incremental update",
    ),
    "query": (
        "query_bench.py",
        ["--build-days", "30"],
        ["--build-days", "3", "--repeats", "2"],
        "issue 5: query functions x preset ranges, uncached and cached, vs DuckDB and pandas "
        "(set NEMDASH_BENCH_STORE to a built five-year store for the reference figures)",
    ),
    "api": (
        "api_bench.py",
        [],
        ["--seconds", "3", "--uncached", "8"],
        "issue 6: requests/s and latency of one server process under wrk (set "
        "NEMDASH_BENCH_STORE to a built five-year store for the reference figures)",
    ),
    "dashboard": (
        "dashboard_bench.py",
        ["--repeats", "3"],
        ["--sessions", "10", "--interactions", "4", "--idle", "5", "--repeats", "1"],
        "issue 7: the dashboard in chromium, 100 concurrent protocol sessions, memory per idle "
        "session (set NEMDASH_BENCH_STORE to a built five-year store for the reference figures)",
    ),
    "lake": (
        "lake_bench.py",
        [],
        ["--quick"],
        "issue 3: the lake alone: month publish, live publish, upsert, compaction",
    ),
    "soak": (
        "soak.py",
        ["--seconds", "300"],
        [
            "--small",
            "--seconds",
            "60",
            "--interval-seconds",
            "3",
            "--sessions",
            "10",
            "--browsers",
            "1",
            "--api-clients",
            "2",
        ],
        "issue 8: server, live clock, API clients, 100 dashboard sessions and faults at once, "
        "then the store checked (set NEMDASH_BENCH_STORE to a built five-year store)",
    ),
}


def machine() -> list[str]:
    """A few lines that say what this machine is."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    versions = []
    for module in ("duckdb", "pyarrow", "pandas", "numpy"):
        mod = __import__(module)
        versions.append(f"{module} {mod.__version__}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
        f"- Commit {commit or 'unknown'}, run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (5-min {five:.1f})"


def run(name: str, quick: bool) -> list[str]:
    """Run one benchmark; return its section of the report."""
    script, full, small, what = BENCHMARKS[name]
    args = small if quick else full
    command = " ".join([".venv/bin/python", f"benchmarks/{script}", *args])
    before = load()
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    output = result.stdout.strip()
    section = [f"<!-- {name}: {what} -->"]
    if output.startswith("## "):
        section.append(output)
    else:
        section += [f"## {name}: {what}", "", "```", output, "```"]
    section += [
        "",
        f"Command: `{command}` ({seconds:.0f} s; load average before {before}, after {load()}).",
    ]
    if result.returncode != 0:
        section += ["", "**The benchmark failed:**", "", "```", result.stderr[-3000:], "```"]
    return section


def previous_sections(report: Path) -> dict[str, str]:
    """The sections of an earlier report by benchmark name (kept when ``--only`` reruns some)."""
    if not report.exists():
        return {}
    found: dict[str, str] = {}
    parts = re.split(r"^(?=<!-- \w+: )", report.read_text(), flags=re.MULTILINE)
    for part in parts[1:]:
        name = part[5 : part.index(":")]
        found[name] = part.rstrip()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=list(BENCHMARKS),
        help="run only these; the other sections of the report are kept as they were",
    )
    parser.add_argument("--output", type=Path, default=REPORT, help="where to write the report")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    lines = [
        "# Benchmarks",
        "",
        "Written by `bash benchmarks/run` (`.venv/bin/python benchmarks/run.py`); do not edit by "
        "hand. Every figure compares nemdash with a baseline measured in the same run on the same "
        "data, because the machine is shared and noisy: read the ratios first.",
        "",
        *machine(),
        "",
    ]
    if args.quick:
        lines += ["**Quick run (small sizes): not the reference figures.**", ""]
    failed = False
    sections = previous_sections(args.output) if args.only and not args.quick else {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr)
        section = run(name, args.quick)
        failed |= any("**The benchmark failed:**" in s for s in section)
        sections[name] = "\n".join(section)
    for name in BENCHMARKS:
        if name in sections:
            lines += [sections[name], ""]
    args.output.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
