"""Issue 7's dashboard benchmark: a real browser, a hundred protocol sessions, memory per session.

Run: ``.venv/bin/python benchmarks/dashboard_bench.py`` (``--quick`` for a small run). It serves
a store (``NEMDASH_BENCH_STORE``, e.g. the five-year synthetic NEM, served read-only: no
collector, no disk cache; default: a small demo store built in a temporary folder) with one
``nemdash serve --no-collect`` process, waits for its start-up warm-up to finish, and measures:

* **a real browser** (Debian's chromium driven by Playwright): from navigation to the first view
  drawn (the Today tab's charts holding data, painted), then each tab change (first visit: the
  tab is built; revisit), a range and a region change, each until the charts hold the new data,
  no view is loading and a frame is painted; the median of ``--repeats`` fresh pages;
* **``--sessions`` concurrent protocol sessions** (``dashclient.DashboardSession``, the Bokeh
  protocol as BokehJS speaks it, no browser): opened over a few seconds, each then making
  ``--interactions`` clicks (tabs, ranges, regions) with a think time between them: p50, p95
  and p99 of the interaction latency (until the server's answer is complete);
* **memory per idle session**: the server's RSS (its process tree, from /proc) before and after
  opening ``--idle`` sessions that then sit idle, divided by their number; and again some
  time after they closed (does the server give it back?);
* **the baseline**, in the same run: the same server's ``/api/v1/metadata/regions`` (median of
  sequential requests, before and after the load), so the figures can be read as ratios on a
  noisy machine.

Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dashclient import DashboardSession
from nemdash.config import Settings
from nemdash.query.connection import Database
from nemdash.query.hotset import preset_range
from support import CHROMIUM, CHROMIUM_ARGS, free_port, wait_serving

#: The issue's targets.
FIRST_VIEW_TARGET = 1.5
CHANGE_TARGET = 0.5
P95_TARGET = 1.0
IDLE_MB_TARGET = 5.0

#: What one protocol session does after opening, in order (cycled).
SESSION_SCRIPT = (
    "tab:Generation",
    "range:30d",
    "region:{region}",
    "range:7d",
    "tab:Prices",
    "range:1d",
    "tab:Today",
    "tab:Generation",
    "region:NEM",
    "range:90d",
)
REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
#: Most seconds the load test waits for its sessions.
BARRIER_TIMEOUT = 900.0


# -- the server process ---------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    found = [pid]
    for current in found:
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid``'s process tree, MiB."""
    total = 0
    for member in tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``'s process tree."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wait_idle(pid: int, *, limit: float = 900.0) -> float:
    """Wait until the server's CPU use falls under 10 % of a core for 3 s (its warm-up done)."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = cpu_seconds(pid)
        time.sleep(3)
        if cpu_seconds(pid) - before < 0.3:
            break
    return time.monotonic() - began


@contextmanager
def serve(data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One ``nemdash serve --no-collect`` process on a free port; the store is only read."""
    port = free_port()
    env = {
        **os.environ,
        "NEMDASH_DATA_DIR": str(data_dir),
        "NEMDASH_SERVER_COLLECT": "false",
        "NEMDASH_CACHE_DISK_BYTES": "0",  # the benchmark store is never written to
    }
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "nemdash.cli", "serve", "--no-collect", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(f"{url}/api/v1/status", server, timeout=180, log=log)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def baseline_ms(url: str, count: int = 40) -> float:
    """Median latency of the server's cheapest API route, ms (sequential requests)."""
    times = []
    with httpx.Client(timeout=30) as client:
        client.get(f"{url}/api/v1/metadata/regions").raise_for_status()
        for _ in range(count):
            began = time.perf_counter()
            client.get(f"{url}/api/v1/metadata/regions").raise_for_status()
            times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


# -- the browser ----------------------------------------------------------------------------------

#: True once the named source holds data other than ``window.__nd_before`` (when given), no
#: view shows Panel's loading spinner, and the URL holds ``expect``.
SETTLED = """([source, expect]) => {
    const doc = window.Bokeh && window.Bokeh.documents[0];
    if (!doc) return false;
    if (expect && !window.location.search.includes(expect)) return false;
    for (const model of doc.all_models) {
        const classes = model.css_classes;
        if (classes && classes.includes('pn-loading')) return false;
    }
    if (!source) return true;
    const found = doc.get_model_by_name(source);
    if (!found) return false;
    const columns = Object.values(found.data);
    if (columns.length === 0 || columns[0].length === 0) return false;
    return window.__nd_before === undefined || found.data !== window.__nd_before;
}"""
REMEMBER = """(source) => {
    const doc = window.Bokeh && window.Bokeh.documents[0];
    const found = doc && doc.get_model_by_name(source);
    window.__nd_before = found ? found.data : undefined;
}"""
PAINTED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"

#: The browser's steps: (label, how to click, the source that must change, the URL part).
BrowserStep = tuple[str, Callable[[Any], None], str | None, str]


def _tab(title: str) -> Callable[[Any], None]:
    def click(page: Any) -> None:
        page.locator(".bk-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()

    return click


def _range(label: str) -> Callable[[Any], None]:
    def click(page: Any) -> None:
        page.locator(".nd-range button", has_text=re.compile(f"^{label}$")).first.click()

    return click


def _region(label: str) -> Callable[[Any], None]:
    def click(page: Any) -> None:
        page.locator("select").first.select_option(label=label)

    return click


BROWSER_STEPS: tuple[BrowserStep, ...] = (
    ("Generation tab, first visit", _tab("Generation"), "generation-mix-source", "tab=generation"),
    ("range 30d", _range("30d"), "generation-mix-source", "range=30d"),
    ("region VIC1", _region("VIC1 Victoria"), "generation-mix-source", "region=VIC1"),
    ("Prices tab, first visit", _tab("Prices"), "price-stats-source", "tab=prices"),
    ("Generation tab, revisit", _tab("Generation"), None, "tab=generation"),
    ("Today tab, revisit", _tab("Today"), None, "tab=today"),
)


def browser_timings(url: str, repeats: int) -> dict[str, list[float]]:
    """Seconds per step of :data:`BROWSER_STEPS` (and the first view), one list per step."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {"first view (Today drawn)": []}
    for label, *_ in BROWSER_STEPS:
        found[label] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                page = context.new_page()
                began = time.perf_counter()
                page.goto(url + "/", wait_until="commit")
                page.wait_for_function(SETTLED, arg=["today-mix-source", ""], timeout=120_000)
                page.evaluate(PAINTED)
                found["first view (Today drawn)"].append(time.perf_counter() - began)
                for label, click, source, expect in BROWSER_STEPS:
                    if source is not None:
                        page.evaluate(REMEMBER, source)
                    else:
                        page.evaluate("() => { window.__nd_before = undefined; }")
                    began = time.perf_counter()
                    click(page)
                    page.wait_for_function(SETTLED, arg=[source, expect], timeout=120_000)
                    page.evaluate(PAINTED)
                    found[label].append(time.perf_counter() - began)
                context.close()
        finally:
            browser.close()
    return found


# -- protocol sessions ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What the concurrent sessions saw."""

    opens: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def load(url: str, sessions: int, interactions: int, think: float, seed: int) -> LoadResult:
    """``sessions`` sessions at once, each opening and then clicking ``interactions`` times."""
    result = LoadResult()
    lock = threading.Lock()
    start_gap = 5.0 / max(1, sessions)  # all open within about five seconds
    held = threading.Barrier(sessions + 1)
    release = threading.Event()

    def user(number: int) -> None:
        rng = random.Random(seed + number)
        time.sleep(number * start_gap)
        session = DashboardSession(url + "/")
        try:
            opened = session.open()
            with lock:
                result.opens.append(opened)
            for step in range(interactions):
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))
                action = SESSION_SCRIPT[step % len(SESSION_SCRIPT)]
                action = action.format(region=rng.choice(REGIONS))
                seconds = session.interact(action)
                with lock:
                    result.latencies.append(seconds)
                    result.by_action.setdefault(action.split(":")[0], []).append(seconds)
                    result.bytes += session.last.bytes
        except Exception as exc:  # counted and reported: the run goes on
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            # Every session stays open until all are done.
            with contextlib.suppress(threading.BrokenBarrierError):
                held.wait(timeout=BARRIER_TIMEOUT)
            release.wait(timeout=BARRIER_TIMEOUT)
            session.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(sessions)]
    for thread in threads:
        thread.start()
    try:
        held.wait(timeout=BARRIER_TIMEOUT)
    except threading.BrokenBarrierError:
        result.errors.append(f"sessions still busy after {BARRIER_TIMEOUT:.0f} s")
    result.seconds = time.perf_counter() - began
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    return result


def idle_memory(url: str, pid: int, count: int, release_wait: float) -> tuple[float, float, float]:
    """RSS (MiB) before, with ``count`` idle sessions open, and ``release_wait`` s after closing."""
    # One session first, so that what the first session loads (templates, modules) is not counted.
    first = DashboardSession(url + "/")
    first.open()
    first.close()
    time.sleep(2)
    before = rss_mb(pid)
    opened = []
    for _ in range(count):
        session = DashboardSession(url + "/")
        session.open()
        opened.append(session)
    time.sleep(3)
    during = rss_mb(pid)
    for session in opened:
        session.close()
    time.sleep(release_wait)
    return before, during, rss_mb(pid)


# -- the report -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100, help="concurrent protocol sessions")
    parser.add_argument("--interactions", type=int, default=8, help="clicks per session")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time (s)")
    parser.add_argument("--idle", type=int, default=40, help="idle sessions for the memory")
    parser.add_argument("--repeats", type=int, default=5, help="fresh browser pages")
    parser.add_argument("--release-wait", type=float, default=40.0, help="s after closing")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    store = os.environ.get("NEMDASH_BENCH_STORE")
    tmp = Path(tempfile.mkdtemp(prefix="nemdash-dashboard-bench-"))
    if store is None:
        from nemdash.demo.build import build_demo_store

        base = Settings(data_dir=tmp / "real", demo_data_dir=tmp / "demo")
        data_dir = build_demo_store(base, days=30, units=120).settings.data_dir
    else:
        data_dir = Path(store)
    db = Database(Settings(data_dir=data_dir, cache_disk_bytes=0))
    span = preset_range(db, "all")
    db.close()
    if span is None:
        sys.exit(f"the store at {data_dir} is empty")
    with serve(data_dir, tmp / "server.log") as (url, server):
        warm = wait_idle(server.pid)
        started_rss = rss_mb(server.pid)
        base_before = baseline_ms(url)
        before, during, after = idle_memory(url, server.pid, args.idle, args.release_wait)
        browser = browser_timings(url, args.repeats) if CHROMIUM.exists() else {}
        wait_idle(server.pid, limit=60)
        loaded = load(url, args.sessions, args.interactions, args.think, args.seed)
        base_after = baseline_ms(url)
        peak = rss_mb(server.pid)
    per_session = (during - before) / max(1, args.idle)
    lines = [
        "## Dashboard (issue 7): a browser, concurrent sessions, memory",
        "",
        f"Store: {data_dir.name} ({span[0]:%Y-%m-%d} .. {span[1]:%Y-%m-%d}); one "
        "`nemdash serve --no-collect` process (one worker, disk cache off), measured after its "
        f"start-up warm-up ({warm:.0f} s). Baseline: the same server's `/api/v1/metadata/regions`, "
        f"median {base_before:.1f} ms before the load and {base_after:.1f} ms after.",
        "",
    ]
    if browser:
        lines += [
            f"**Chromium** (Playwright, 1280x1000), median of {args.repeats} fresh pages: until "
            "the charts hold the new data, no view is loading and a frame is painted.",
            "",
            "| step | median | min | max | x baseline | target |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for label, values in browser.items():
            median = statistics.median(values)
            target = FIRST_VIEW_TARGET if label.startswith("first view") else CHANGE_TARGET
            lines.append(
                f"| {label} | {ms(median)} | {ms(min(values))} | {ms(max(values))} | "
                f"{median * 1000 / base_before:,.0f} | {target * 1000:,.0f} ms: "
                f"{verdict(median <= target)} |"
            )
        lines.append("")
    else:
        lines += [f"No browser: {CHROMIUM} is missing.", ""]
    lat = loaded.latencies
    p95 = quantile(lat, 0.95)
    lines += [
        f"**{args.sessions} concurrent protocol sessions** (`benchmarks/dashclient.py`: the Bokeh "
        f"protocol as BokehJS speaks it), opened within 5 s, each then making {args.interactions} "
        f"clicks (tab, range, region; first visits of a tab included) {args.think:.1f} s apart "
        f"on average; {len(lat)} interactions in {loaded.seconds:.0f} s, "
        f"{loaded.bytes / 2**20:,.1f} MiB of answers, {len(loaded.errors)} errors.",
        "",
        "| | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|",
        f"| open (page + document + first view) | {ms(quantile(loaded.opens, 0.5))} | "
        f"{ms(quantile(loaded.opens, 0.95))} | {ms(quantile(loaded.opens, 0.99))} | "
        f"{ms(max(loaded.opens, default=float('nan')))} |",
        f"| interaction, all | {ms(quantile(lat, 0.5))} | {ms(p95)} | "
        f"{ms(quantile(lat, 0.99))} | {ms(max(lat, default=float('nan')))} |",
    ]
    for kind, values in sorted(loaded.by_action.items()):
        lines.append(
            f"| interaction, {kind} | {ms(quantile(values, 0.5))} | {ms(quantile(values, 0.95))}"
            f" | {ms(quantile(values, 0.99))} | {ms(max(values))} |"
        )
    lines += [
        "",
        f"p95 {ms(p95)} = {p95 * 1000 / base_after:,.0f} x the baseline; target 1,000 ms: "
        f"{verdict(p95 < P95_TARGET)}.",
    ]
    if loaded.errors:
        lines += ["", "Errors (first 3): " + "; ".join(loaded.errors[:3])]
    lines += [
        "",
        f"**Memory**: server RSS {started_rss:,.0f} MiB after the warm-up; {before:,.0f} MiB "
        f"before {args.idle} idle sessions, {during:,.0f} MiB with them open: "
        f"**{per_session:.1f} MiB per idle session** (target 5 MB: "
        f"{verdict(per_session < IDLE_MB_TARGET)}); {after:,.0f} MiB {args.release_wait:.0f} s "
        f"after they closed ({(during - after) / max(during - before, 1e-9):.0%} of it "
        f"returned); {peak:,.0f} MiB after the {args.sessions}-session load.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
