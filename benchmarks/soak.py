"""Issue 8's system benchmark and fault soak: everything at once, faults, then the store checked.

Run: ``bash benchmarks/soak`` (or ``.venv/bin/python benchmarks/soak.py``; ``--help`` lists the
options; docs/soak.md explains the report). What it does, in order:

1. **Store.** ``--store`` (default ``$NEMDASH_BENCH_STORE``, e.g. the five-year 500-unit demo
   store) is never modified: the run works on a copy in which the Parquet files and the NEMWEB tree
   are hard links (the lake never rewrites a file in place, the live clock replaces files with
   ``os.replace``) and everything opened for writing (the SQLite manifest, the cache, the locks'
   folder) is a real copy. ``--small`` builds a small demo store (3 days, 40 units) instead.
2. **Publisher** (this process): a :class:`~nemdash.demo.tree.LiveClock` writes the next 5-minute
   interval's CURRENT files every ``--interval-seconds``, recording each interval and when its
   files were on disk; a :class:`~nemdash.nemweb.mirror.NemwebMirror` serves the tree, with an
   intercept that injects NEMWEB's failures.
3. **Server**: a real ``nemdash serve --workers 2`` process (its own process group), collecting
   from the mirror into the copy (``NEMDASH_POLL_EVERY``: the live clock is fast).
4. **Load** for ``--seconds``, from separate processes (this script with ``--role``): API clients
   (a mix of cached and uncached series, CSV and Arrow, status), protocol-level dashboard sessions
   (``benchmarks/dashclient.py`` when present, else a page load plus a held Bokeh websocket) and
   ``--browsers`` real Chromium pages (Playwright, Debian's ``/usr/bin/chromium``).
5. **Faults** on a schedule (fractions of the run, so a short run compresses them): the collecting
   worker SIGKILLed while it holds the lake's writer lock; NEMWEB answering 500s, then timing out,
   then serving HTML pages instead of zips; a corrupt zip published into CURRENT; the disk cache
   deleted; a non-collecting worker SIGKILLed. Nothing is repaired by hand: each fault is followed
   by checks that the service answers, that an interval published after it becomes visible, and
   that the store holds every interval collected so far exactly once.
6. **Measures**: latency percentiles per API endpoint and per dashboard interaction, requests/s,
   server RSS and CPU (its whole process tree, from /proc, every second), cache hit ratios (from
   ``/api/v1/status``), the freshness lag of every interval (file written -> visible in
   ``/api/v1/prices/latest``), every 5xx and failed request.
7. **Invariants** after publishing stops and the collector catches up: every published interval in
   every 5-minute table (and every rooftop PV half hour) with exactly the rows its files hold, no
   key twice, every ingested file byte-identical to the one published, only the corrupt file
   quarantined, no 5xx, every fault recovered, the server never restarted by hand.

Prints a Markdown section for docs/benchmarks.md (``benchmarks/run.py --only soak``); ``--json``
writes everything measured. Exit status 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from nemdash import nemtime
from nemdash.config import Settings
from nemdash.demo.build import build_demo_store, open_demo_store
from nemdash.demo.live import LiveDemo
from nemdash.demo.tree import MANIFEST, LiveClock
from nemdash.nemweb import filenames
from nemdash.nemweb.mirror import MirrorResponse, NemwebMirror
from nemdash.store.lake import Lake
from nemdash.tables import FEEDS, TABLES
from support import CHROMIUM, CHROMIUM_ARGS, free_port

log = logging.getLogger("soak")

REPO = Path(__file__).resolve().parents[1]
#: Server workers: one collects, the other takes over when it dies.
WORKERS = 2
#: The collector's HTTP settings for the mirror on loopback: a 5-s timeout is already a thousand
#: times its normal answer, and it keeps a NEMWEB outage from holding the writer lock for minutes.
HTTP_TIMEOUT = 5.0
HTTP_RETRIES = 1
HTTP_BACKOFF = 0.5
#: Seconds between the collector's polls (the live clock publishes every few seconds).
POLL_EVERY = 1.0
#: Seconds the freshness watcher waits between two reads of /api/v1/prices/latest.
WATCH_EVERY = 0.2
#: Seconds after a worker or collector kill during which a request cut off is put down to it.
KILL_WINDOW = 30.0
#: Most seconds a fault gets to recover (service answering, new data visible again).
RECOVERY_DEADLINE = 240.0
#: Seconds a recovery check waits for one answer (latency is measured elsewhere).
ANSWER_TIMEOUT = 120.0
#: Most seconds the collector gets to catch up once publishing stops.
CATCH_UP_DEADLINE = 300.0
#: The small store of ``--small``.
SMALL_DAYS = 3
SMALL_UNITS = 40
#: The 5-minute feeds (their tables must hold every published interval).
FIVE_MINUTE_FEEDS = ("DispatchIS_Reports", "Dispatch_SCADA", "TradingIS_Reports")
FORBIDDEN_PAGE = (
    b"<html><head><title>403 - Forbidden: Access is denied.</title></head><body>"
    b"<h2>403 - Forbidden: Access is denied.</h2></body></html>"
)
#: Fault schedule: (name, start, duration) as fractions of ``--seconds``.
SCHEDULE: tuple[tuple[str, float, float], ...] = (
    ("collector killed mid-write", 0.08, 0.0),
    ("NEMWEB answers 500", 0.16, 0.08),
    ("NEMWEB times out", 0.30, 0.08),
    ("NEMWEB serves HTML pages", 0.44, 0.08),
    ("corrupt zip in CURRENT", 0.58, 0.0),
    ("disk cache deleted", 0.68, 0.0),
    ("non-collecting worker killed", 0.78, 0.0),
)
#: What a protocol-level session clicks, in order and round again (benchmarks/dashclient.py's
#: action names; the region selector is on the Generation tab).
SESSION_SCRIPT = (
    "tab:Generation",
    "range:30d",
    "region:VIC1",
    "range:7d",
    "region:NEM",
    "tab:Prices",
    "range:30d",
    "tab:Today",
)


# ----------------------------------------------------------------------------------------------
# Small helpers


def now() -> float:
    """Monotonic seconds (CLOCK_MONOTONIC: the same clock in every process of the machine)."""
    return time.monotonic()


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(value: float | None) -> str:
    """Seconds as milliseconds for the report (``-`` when unknown)."""
    return "-" if value is None else f"{value * 1000:,.0f} ms"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} s"


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = now() + timeout
    while now() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def flock_holders(path: Path) -> set[int]:
    """PIDs holding a flock on ``path`` (Linux ``/proc/locks``)."""
    try:
        inode = path.stat().st_ino
    except OSError:
        return set()
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK":
            device_inode = parts[5].split(":")
            if len(device_inode) == 3 and int(device_inode[2]) == inode:
                holders.add(int(parts[4]))
    return holders


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent PID, CPU seconds used) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 when it is gone)."""
    try:
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident * os.sysconf("SC_PAGE_SIZE")


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                children[stat[0]].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ----------------------------------------------------------------------------------------------
# The store and its working copy


def same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def working_copy(store: Path, dest: Path) -> dict[str, int]:
    """Copy ``store`` to ``dest``: hard links for the immutable files, real copies for the rest.

    Parquet files under ``lake/`` are written once and never changed (a publish adds files, a
    vacuum unlinks them) and the NEMWEB tree's files are only ever replaced (``os.replace``) or
    unlinked, so linking them is safe; the SQLite manifest, the cache and anything else may be
    written in place and is copied. Lock files are not copied (the copy gets its own).
    """
    counts = {"linked": 0, "copied": 0, "linked_bytes": 0, "copied_bytes": 0}
    for folder, _dirs, files in os.walk(store):
        source_dir = Path(folder)
        rel = source_dir.relative_to(store)
        target_dir = dest / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        top = rel.parts[0] if rel.parts else ""
        for name in files:
            source, target = source_dir / name, target_dir / name
            if name.endswith(".lock"):
                continue
            size = source.stat().st_size
            immutable = (top == "lake" and name.endswith(".parquet")) or top == "nemweb"
            if immutable and not name.endswith(".tmp"):
                os.link(source, target)
                counts["linked"] += 1
                counts["linked_bytes"] += size
            else:
                shutil.copy2(source, target)
                counts["copied"] += 1
                counts["copied_bytes"] += size
    return counts


@dataclass(frozen=True)
class StoreInfo:
    """The store the soak runs on."""

    source: str
    units: int
    start: str
    end: str
    lake_bytes: int
    unit_scada_rows: int
    resume: datetime
    """The last interval already in the copy (naive NEM time): publishing starts after it."""


def describe_store(copy: Path, source: str) -> StoreInfo:
    """What the copy holds and where the live clock carries on."""
    settings = Settings(data_dir=copy.parent / f"{copy.name}-unused-real", demo_data_dir=copy)
    store = open_demo_store(settings)
    if store is None:
        raise SystemExit(
            f"{source} is not a built synthetic demo store (demo-store.json says it is not ready); "
            "build one with `nemdash demo --years 5 --units 500 --no-serve`, or use --small"
        )
    manifest = json.loads((store.tree_root / MANIFEST).read_text())
    lake = Lake(store.settings.paths)
    files = lake.live_files()
    resume = LiveDemo(store.settings, store).resume_point()
    return StoreInfo(
        source=source,
        units=int(manifest["units"]),
        start=f"{store.start:%Y-%m-%d %H:%M}",
        end=f"{store.end:%Y-%m-%d %H:%M}",
        lake_bytes=sum(f.bytes for f in files),
        unit_scada_rows=sum(f.rows for f in files if f.table == "unit_scada"),
        resume=resume,
    )


def build_small_store(folder: Path) -> Path:
    """A small synthetic demo store built through the real pipeline (a few seconds)."""
    settings = Settings(data_dir=folder / "unused-real", demo_data_dir=folder / "demo")
    return build_demo_store(settings, days=SMALL_DAYS, units=SMALL_UNITS).root


# ----------------------------------------------------------------------------------------------
# Publisher and faulty NEMWEB


@dataclass(frozen=True)
class Published:
    """One interval the publisher wrote."""

    interval_end: datetime
    """Naive NEM time."""
    at: float
    """Monotonic time when all its files were on disk."""
    files: tuple[str, ...]
    """Paths relative to the tree."""


class Publisher:
    """Writes the next interval's CURRENT files every ``every`` seconds (a thread)."""

    def __init__(self, tree: Path, after: datetime, every: float) -> None:
        self.tree = tree
        self.clock = LiveClock.from_tree(tree)
        self.latest = after
        self.every = every
        self.published: list[Published] = []
        self.corrupt: list[str] = []
        self._changed = threading.Condition()
        self._write = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-publisher", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        due = now()
        try:
            while not self._stop.is_set():
                self.publish_next()
                due += self.every
                self._stop.wait(max(0.0, due - now()))
        except BaseException as exc:  # reported as an invariant failure: the run is void
            self.error = exc
            log.exception("the publisher failed")

    def publish_next(self) -> Published:
        """Write the next interval's files (DISPATCHIS, DISPATCHSCADA, TRADINGIS, rooftop PV)."""
        with self._write:
            interval_end = self.latest + nemtime.FIVE_MINUTES
            paths = self.clock.publish(interval_end)
            done = Published(
                interval_end, now(), tuple(p.relative_to(self.tree).as_posix() for p in paths)
            )
            # As NEMWEB does (and the live demo): CURRENT keeps about two days.
            self.clock.roll_off(interval_end - timedelta(days=2))
        with self._changed:
            self.latest = interval_end
            self.published.append(done)
            self._changed.notify_all()
        return done

    def snapshot(self) -> list[Published]:
        with self._changed:
            return list(self.published)

    def first_after(self, moment: float, timeout: float) -> Published | None:
        """The first interval published after the monotonic time ``moment`` (waiting for it)."""
        with self._changed:
            self._changed.wait_for(lambda: any(p.at > moment for p in self.published), timeout)
            return next((p for p in self.published if p.at > moment), None)

    def publish_corrupt(self) -> str:
        """Put a corrupt DISPATCHIS zip for the newest interval into CURRENT (a re-issue's name).

        The interval's real file stays: the corrupt one must be quarantined and nothing lost.
        """
        with self._write:
            interval_end = self.latest
            feed = "DispatchIS_Reports"
            folder = self.tree / FEEDS[feed].current_dir
            real = next(
                p for p in folder.glob(f"{FEEDS[feed].file_prefixes[0]}{interval_end:%Y%m%d%H%M}_*")
            )
            file_id = int(real.stem.rsplit("_", 1)[1]) + 4  # ids step by 8: +4 is nobody's
            name = filenames.current_name(feed, interval_end, f"{file_id:016d}")
            data = real.read_bytes()
            temp = folder / f".{name}.tmp"
            temp.write_bytes(data[: len(data) // 2])  # a zip cut in half
            os.replace(temp, folder / name)
            self.corrupt.append(name)
            return name


class FaultyNemweb:
    """The mirror's intercept: answers as NEMWEB does when it misbehaves, while a mode is on."""

    def __init__(self, timeout_sleep: float) -> None:
        self.mode: str | None = None
        self.timeout_sleep = timeout_sleep
        self.answered: Counter[str] = Counter()
        self._lock = threading.Lock()

    def intercept(self, site_path: str) -> MirrorResponse | None:
        mode = self.mode
        if mode is None:
            return None
        if mode == "html" and not site_path.lower().endswith(".zip"):
            return None  # listings answer: the zips they list come back as HTML pages
        with self._lock:
            self.answered[mode] += 1
        if mode == "500":
            return MirrorResponse(500, b"<html><body><h2>500 - Internal server error.</h2></html>")
        if mode == "timeout":
            time.sleep(self.timeout_sleep)  # the client gave up long before
            return MirrorResponse(504, b"<html><body>Gateway Time-out</body></html>")
        return MirrorResponse(200, FORBIDDEN_PAGE, "text/html")


# ----------------------------------------------------------------------------------------------
# The server process


class ServerProcess:
    """``nemdash serve --workers 2`` collecting from the mirror, in its own process group."""

    def __init__(self, data_dir: Path, nemweb_url: str, log_path: Path, pgid_file: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.pgid_file = pgid_file
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEMDASH_")}
        env.update(
            {
                "NEMDASH_DATA_DIR": str(data_dir),
                "NEMDASH_NEMWEB_URL": nemweb_url,
                "NEMDASH_POLL_EVERY": str(POLL_EVERY),
                "NEMDASH_HTTP_TIMEOUT": str(HTTP_TIMEOUT),
                "NEMDASH_HTTP_RETRIES": str(HTTP_RETRIES),
                "NEMDASH_HTTP_BACKOFF": str(HTTP_BACKOFF),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env
        self.command = [
            sys.executable,
            "-m",
            "nemdash.cli",
            "serve",
            "--workers",
            str(WORKERS),
            "--port",
            str(self.port),
            "--collect",
            "--no-offline-demo",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole at the end
            )
        self.pgid_file.write_text(f"{self.process.pid}\n")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def workers(self) -> list[int]:
        """PIDs of the uvicorn workers (children that are not multiprocessing's helpers)."""
        found = []
        for pid in descendants(self.pid)[1:]:
            stat = proc_stat(pid)
            line = cmdline(pid)
            if stat and stat[0] == self.pid and "resource_tracker" not in line:
                found.append(pid)
        return found

    def collector_pid(self) -> int | None:
        """The worker holding ``collector.lock`` (from the lock file, checked in /proc/locks)."""
        path = self.data_dir / "collector.lock"
        try:
            text = path.read_text().strip()
        except OSError:
            return None
        holders = flock_holders(path)
        if text.isdigit() and int(text) in holders:
            return int(text)
        return next(iter(holders), None)

    def wait_ready(self, timeout: float) -> None:
        """Until the API answers and one worker holds the collector lock."""

        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            try:
                answer = httpx.get(f"{self.url}/api/v1/status", timeout=10)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and self.collector_pid() is not None

        if not wait_until(ready, timeout, every=0.5):
            raise RuntimeError(f"the server did not become ready in {timeout:.0f} s")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM to the whole group, SIGKILL if it lingers; the supervisor's exit status."""
        if self.process is None:
            return None
        code = self.process.poll()
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                code = self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                code = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # stragglers (a hung worker) go too
        if code is None:
            code = self.process.wait(timeout=30)
        return code


# ----------------------------------------------------------------------------------------------
# Measurements in the harness: resources, freshness, status


@dataclass
class Sample:
    t: float
    rss: int
    cpu: float
    processes: int


class Sampler:
    """RSS and CPU of the server's process tree, every second."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.samples: list[Sample] = []
        self._cpu_of: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = descendants(self.server.pid)
            for pid in pids:
                stat = proc_stat(pid)
                if stat is not None:
                    self._cpu_of[pid] = stat[1]  # a dead worker keeps the CPU it used
            self.samples.append(
                Sample(
                    now(), sum(rss_bytes(p) for p in pids), sum(self._cpu_of.values()), len(pids)
                )
            )
            self._stop.wait(1.0)


class FreshnessWatcher:
    """Reads the newest price interval through the API every :data:`WATCH_EVERY` seconds."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.first_seen: dict[datetime, float] = {}
        self.newest: datetime | None = None
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[tuple[float, str]] = []
        self.transport_errors: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-freshness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.get("/api/v1/prices/latest", params={"intervals": 1})
                except httpx.HTTPError as exc:
                    self.transport_errors.append((now(), f"{type(exc).__name__}: {exc}"))
                    self._stop.wait(WATCH_EVERY)
                    continue
                self.statuses[answer.status_code] += 1
                if answer.status_code >= 500:
                    self.server_errors.append((now(), answer.text[:300]))
                elif answer.status_code == 200:
                    self._note(answer.json())
                self._stop.wait(WATCH_EVERY)

    def _note(self, body: dict[str, Any]) -> None:
        ends = [row["interval_end"] for row in body.get("data", [])]
        if not ends:
            return
        newest = nemtime.to_naive(datetime.fromisoformat(max(ends)))
        with self._changed:
            if self.newest is None or newest > self.newest:
                self.newest = newest
                self.first_seen[newest] = now()
                self._changed.notify_all()

    def seen_at(self, interval_end: datetime) -> float | None:
        """When the API first showed ``interval_end`` or a later interval."""
        with self._changed:
            times = [t for end, t in self.first_seen.items() if end >= interval_end]
            return min(times) if times else None

    def wait_for(self, interval_end: datetime, timeout: float) -> float | None:
        """Wait until the API shows ``interval_end``; when it did (None: not in time)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.newest is not None and self.newest >= interval_end, timeout
            )
        return self.seen_at(interval_end)


class CollectedWatcher:
    """When the collector's watermarks (the manifest, read directly) first covered each interval.

    Beside the API's freshness this separates collecting from serving: under a heavy load the
    collector may keep up while the API is slow to show it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.first_seen: dict[datetime, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-collected", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # the manifest busy for a moment: next time
                upto = collected_upto(self.data_dir)
                newest = min(upto.get(t, datetime.min) for t in ("dispatch_price", "unit_scada"))
                if newest != datetime.min and newest not in self.first_seen:
                    self.first_seen[newest] = now()
            self._stop.wait(WATCH_EVERY)

    def seen_at(self, interval_end: datetime) -> float | None:
        times = [t for end, t in list(self.first_seen.items()) if end >= interval_end]
        return min(times) if times else None


class StatusSampler:
    """``/api/v1/status`` every few seconds: cache counters per worker, verdicts, problems."""

    def __init__(self, base_url: str, every: float = 2.0) -> None:
        self.base_url = base_url
        self.every = every
        self.last_by_pid: dict[int, dict[str, Any]] = {}
        self.verdicts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[tuple[float, str]] = []
        self.transport_errors: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def sample(self, client: httpx.Client) -> dict[str, Any] | None:
        try:
            answer = client.get("/api/v1/status")
        except httpx.HTTPError as exc:
            self.transport_errors.append((now(), f"{type(exc).__name__}: {exc}"))
            return None
        self.statuses[answer.status_code] += 1
        if answer.status_code >= 500:
            self.server_errors.append((now(), answer.text[:300]))
            return None
        body: dict[str, Any] = answer.json()
        self.verdicts[str(body.get("status"))] += 1
        self.last_by_pid[int(body["process"]["pid"])] = body
        return body

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop.is_set():
                self.sample(client)
                self._stop.wait(self.every)

    def cache_ratios(self) -> dict[str, dict[str, float | int | None]]:
        """Hits, misses and hit ratio per cache layer, summed over every worker seen."""
        totals: dict[str, dict[str, float | int | None]] = {}
        for layer in ("memory", "disk", "responses"):
            hits = misses = 0
            for body in self.last_by_pid.values():
                stats = (body.get("cache") or {}).get(layer) or {}
                hits += int(stats.get("hits") or 0)
                misses += int(stats.get("misses") or 0)
            ratio = hits / (hits + misses) if hits + misses else None
            totals[layer] = {"hits": hits, "misses": misses, "hit_ratio": ratio}
        return totals


# ----------------------------------------------------------------------------------------------
# What the store should hold, and what it holds


def _aemo_time(text: str) -> datetime:
    return datetime.strptime(text.strip('"'), "%Y/%m/%d %H:%M:%S")


def expected_rows(tree: Path, published: list[Published]) -> dict[str, Counter[datetime]]:
    """Rows per table and interval in the published files (read here, not by nemdash's parser)."""
    by_report = {(spec.report, spec.subtype): spec for spec in TABLES.values()}
    expected: dict[str, Counter[datetime]] = defaultdict(Counter)
    for item in published:
        for rel in item.files:
            with zipfile.ZipFile(tree / rel) as archive:
                for member in archive.namelist():
                    text = archive.read(member).decode("latin-1")
                    spec, column = None, -1
                    for line in text.splitlines():
                        fields = line.split(",")
                        if fields[0] == "I":
                            spec = by_report.get((fields[1], fields[2]))
                            names = [f.lower() for f in fields[4:]]
                            column = 4 + names.index(spec.time_column) if spec else -1
                        elif fields[0] == "D" and spec is not None:
                            expected[spec.name][_aemo_time(fields[column])] += 1
    return expected


@dataclass
class StoreCheck:
    """The store against what was published, for the intervals up to ``upto``."""

    checked: dict[str, int] = field(default_factory=dict)
    """Intervals checked per table."""
    missing: dict[str, list[str]] = field(default_factory=dict)
    """Intervals with fewer rows than their files hold."""
    duplicated: dict[str, list[str]] = field(default_factory=dict)
    """Intervals where a primary key appears more than once."""
    unexpected: dict[str, list[str]] = field(default_factory=dict)
    """Intervals in the store that nobody published (after the store's own end)."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)

    def summary(self) -> str:
        total = sum(self.checked.values())
        if self.ok:
            return f"{total} table-intervals checked: all present, none duplicated"
        parts = []
        for label, found in (
            ("missing", self.missing),
            ("duplicated", self.duplicated),
            ("unexpected", self.unexpected),
        ):
            for table, times in found.items():
                parts.append(f"{table} {label}: {', '.join(times[:3])} ({len(times)})")
        return f"{total} table-intervals checked; " + "; ".join(parts)


def check_store(
    data_dir: Path, expected: dict[str, Counter[datetime]], upto: dict[str, datetime]
) -> StoreCheck:
    """Count rows and distinct keys per interval in the lake's live files (DuckDB, read only).

    Per table, the intervals from the first one published to ``upto`` (the newest the collector
    has handled) must hold as many rows as the published files, each key once, and nothing else.
    """
    lake = Lake(Settings(data_dir=data_dir).paths)
    snapshot = lake.snapshot()
    result = StoreCheck()
    con = duckdb.connect(":memory:", config={"threads": 1})
    try:
        for table, wanted in expected.items():
            spec = TABLES[table]
            limit = upto.get(table)
            if limit is None:
                continue
            want = {t: n for t, n in wanted.items() if t <= limit}
            if not want:
                continue
            low = min(want)
            files = [
                str(f.path)
                for f in snapshot.for_table(table)
                if f.max_time is None or f.max_time >= low
            ]
            rows: dict[datetime, tuple[int, int]] = {}
            if files:
                key = ", ".join(spec.primary_key)
                found = con.execute(
                    f"SELECT {spec.time_column}, count(*), count(DISTINCT ({key})) "
                    f"FROM read_parquet(?) WHERE {spec.time_column} >= ? "
                    f"AND {spec.time_column} <= ? GROUP BY 1",
                    [files, low, limit],
                ).fetchall()
                rows = {t: (int(n), int(k)) for t, n, k in found}
            result.checked[table] = len(want)
            for t, n in sorted(want.items()):
                got, distinct = rows.get(t, (0, 0))
                if got < n:
                    result.missing.setdefault(table, []).append(f"{t:%Y-%m-%d %H:%M}")
                if got != distinct or got > n:
                    result.duplicated.setdefault(table, []).append(f"{t:%Y-%m-%d %H:%M}")
            extra = sorted(t for t in rows if t not in want)
            if extra:
                result.unexpected[table] = [f"{t:%Y-%m-%d %H:%M}" for t in extra]
    finally:
        con.close()
    return result


def collected_upto(data_dir: Path) -> dict[str, datetime]:
    """Per table, the newest interval its feed's collector has handled (from the manifest)."""
    lake = Lake(Settings(data_dir=data_dir).paths)
    found: dict[str, datetime] = {}
    for feed, spec in FEEDS.items():
        text = lake.get_state(f"collector.{feed}.watermark")
        if not text:
            continue
        watermark = nemtime.to_naive(nemtime.ensure_aware(datetime.fromisoformat(text)))
        for table in spec.tables:
            # A rooftop PV file's name is its publication time: it reports the half hour before.
            found[table] = watermark - timedelta(minutes=30) if table == "rooftop_pv" else watermark
    return found


# ----------------------------------------------------------------------------------------------
# Faults


@dataclass
class FaultRecord:
    """One fault: when, what exactly, and how the system came back."""

    name: str
    planned_at: float
    started_at: float | None = None
    ended_at: float | None = None
    detail: str = ""
    outcome: str = "not run"
    recovered: bool | None = None
    recovery_seconds: float | None = None
    """From the end of the fault until an interval published after it was visible in the API."""
    store: str = ""
    store_ok: bool | None = None
    status_during: str = ""


class FaultRunner:
    """Runs :data:`SCHEDULE` against the server, then checks each fault's recovery."""

    def __init__(
        self,
        *,
        server: ServerProcess,
        nemweb: FaultyNemweb,
        publisher: Publisher,
        watcher: FreshnessWatcher,
        seconds: float,
        t0: float,
        expected: Callable[[], dict[str, Counter[datetime]]],
    ) -> None:
        self.server = server
        self.nemweb = nemweb
        self.publisher = publisher
        self.watcher = watcher
        self.seconds = seconds
        self.t0 = t0
        self.expected = expected
        self.records = [FaultRecord(name, start * seconds) for name, start, _ in SCHEDULE]
        self.kills: list[float] = []
        self._checks: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-faults", daemon=True)
        self._store_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the schedule and every recovery check (at most ``timeout`` seconds)."""
        deadline = now() + timeout
        self._thread.join(max(0.0, deadline - now()))
        for check in list(self._checks):
            check.join(max(0.0, deadline - now()))

    def stop(self) -> None:
        self._stop.set()
        self.nemweb.mode = None

    def rel(self, moment: float | None = None) -> float:
        return (now() if moment is None else moment) - self.t0

    def _run(self) -> None:
        actions: dict[str, Callable[[FaultRecord, float], None]] = {
            "collector killed mid-write": self._kill_collector,
            "NEMWEB answers 500": lambda r, d: self._nemweb(r, "500", d),
            "NEMWEB times out": lambda r, d: self._nemweb(r, "timeout", d),
            "NEMWEB serves HTML pages": lambda r, d: self._nemweb(r, "html", d),
            "corrupt zip in CURRENT": self._corrupt_zip,
            "disk cache deleted": self._delete_cache,
            "non-collecting worker killed": self._kill_worker,
        }
        for record, (_name, _start, length) in zip(self.records, SCHEDULE, strict=True):
            if self._stop.wait(max(0.0, self.t0 + record.planned_at - now())):
                return
            try:
                actions[record.name](record, max(length * self.seconds, 3.0))
            except Exception as exc:
                record.outcome = f"the fault could not be injected: {exc!r}"
                record.recovered = False
                log.exception("fault %s", record.name)

    def _after(self, record: FaultRecord, extra: Callable[[], tuple[bool, str]] | None) -> None:
        """Check recovery on a thread of its own (a later fault may start meanwhile)."""
        check = threading.Thread(
            target=self._recover, args=(record, extra), name=f"soak-recover-{record.name}"
        )
        check.daemon = True
        self._checks.append(check)
        check.start()

    def _recover(self, record: FaultRecord, extra: Callable[[], tuple[bool, str]] | None) -> None:
        ended = self.t0 + (record.ended_at if record.ended_at is not None else self.rel())
        notes = []
        answering = wait_until(self._answers, RECOVERY_DEADLINE, every=1.0)
        notes.append("the API answered" if answering else "the API did NOT answer")
        good = answering
        if extra is not None:
            extra_ok, extra_note = extra()
            good &= extra_ok
            notes.append(extra_note)
        nxt = self.publisher.first_after(ended, RECOVERY_DEADLINE)
        seen = self.watcher.wait_for(nxt.interval_end, RECOVERY_DEADLINE) if nxt else None
        if nxt is None:
            notes.append("no interval was published after it (the run ended)")
        elif seen is None:
            good = False
            notes.append(f"the interval {nxt.interval_end:%H:%M} published after it never showed")
        else:
            record.recovery_seconds = seen - ended
            notes.append(
                f"new data visible {seen - ended:.1f} s after it "
                f"(interval {nxt.interval_end:%H:%M}, {seen - nxt.at:.1f} s after its files)"
            )
        record.recovered = good
        record.outcome = "; ".join(notes)
        # The store against what was published, for every interval the collector has handled.
        with self._store_lock:
            check = check_store(
                self.server.data_dir,
                self.expected(),
                collected_upto(self.server.data_dir),
            )
            if not check.ok:  # a retry in flight may still be filling a gap: look once more
                time.sleep(15)
                check = check_store(
                    self.server.data_dir,
                    self.expected(),
                    collected_upto(self.server.data_dir),
                )
        record.store = check.summary()
        record.store_ok = check.ok

    def _answers(self) -> bool:
        """Status and the latest prices answer (slowly, under load, is still answering)."""
        try:
            status = httpx.get(f"{self.server.url}/api/v1/status", timeout=ANSWER_TIMEOUT)
            latest = httpx.get(f"{self.server.url}/api/v1/prices/latest", timeout=ANSWER_TIMEOUT)
        except httpx.HTTPError:
            return False
        return status.status_code == 200 and latest.status_code == 200

    def _status_problems(self) -> str:
        try:
            body = httpx.get(f"{self.server.url}/api/v1/status", timeout=30).json()
        except (httpx.HTTPError, ValueError):
            return "status unreadable"
        problems = [p for p in body.get("problems", []) if "stale" not in p]
        return f"{body.get('status')}: {problems[0][:160]}" if problems else str(body.get("status"))

    # -- the faults --------------------------------------------------------------------------------

    def _kill_collector(self, record: FaultRecord, _length: float) -> None:
        """SIGKILL the collecting worker at a moment it holds the lake's writer lock."""
        record.started_at = self.rel()
        pid = self.server.collector_pid()
        if pid is None:
            raise RuntimeError("no worker holds collector.lock")
        writer_lock = self.server.data_dir / "writer.lock"
        # Right after a publish the next cycle has files to ingest: wait for one, then for the
        # collector to take the writer lock, and kill it while it holds it.
        self.publisher.first_after(now(), 5 * self.publisher.every + 10)
        deadline = now() + 60
        held = False
        while now() < deadline and not held:
            held = pid in flock_holders(writer_lock)
            if not held:
                time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
        self.kills.append(now())
        # What the dead writer left: temporary Parquet files it had not renamed into place.
        temp_files = sum(1 for _ in (self.server.data_dir / "lake").rglob(".*.tmp"))
        record.ended_at = self.rel()
        record.detail = f"PID {pid} killed {'holding' if held else 'NOT holding'} writer.lock" + (
            f" ({temp_files} Parquet file(s) half-written)" if temp_files else ""
        )

        def taken_over() -> tuple[bool, str]:
            began = now()
            ok = wait_until(
                lambda: (self.server.collector_pid() or pid) != pid, RECOVERY_DEADLINE, 0.2
            )
            new = self.server.collector_pid()
            how = "the other worker" if new in self.server.workers() else "a worker"
            if ok:
                return True, f"{how} (PID {new}) collects {now() - began:.1f} s later"
            return False, "no worker took the collector lock over"

        if not held:
            record.outcome = "the collector never took the writer lock: killed anyway"
        self._after(record, taken_over)

    def _nemweb(self, record: FaultRecord, mode: str, length: float) -> None:
        record.started_at = self.rel()
        before = self.nemweb.answered[mode]
        self.nemweb.mode = mode
        self._stop.wait(length / 2)
        record.status_during = self._status_problems()
        self._stop.wait(length / 2)
        self.nemweb.mode = None
        record.ended_at = self.rel()
        record.detail = (
            f"{length:.0f} s; {self.nemweb.answered[mode] - before} requests answered that way"
        )
        self._after(record, None)

    def _corrupt_zip(self, record: FaultRecord, _length: float) -> None:
        record.started_at = self.rel()
        name = self.publisher.publish_corrupt()
        record.ended_at = self.rel()
        record.detail = f"{name} (half a zip)"

        def quarantined() -> tuple[bool, str]:
            def listed() -> bool:
                try:
                    body = httpx.get(f"{self.server.url}/api/v1/status", timeout=30).json()
                except (httpx.HTTPError, ValueError):
                    return False
                return any(q.get("name") == name for q in body.get("quarantine", []))

            if wait_until(listed, RECOVERY_DEADLINE, every=1.0):
                return True, "quarantined (listed by /api/v1/status)"
            return False, "NOT quarantined"

        self._after(record, quarantined)

    def _delete_cache(self, record: FaultRecord, _length: float) -> None:
        record.started_at = self.rel()
        cache = self.server.data_dir / "cache"
        entries = sum(1 for _ in cache.rglob("*")) if cache.exists() else 0
        shutil.rmtree(cache, ignore_errors=True)
        record.ended_at = self.rel()
        record.detail = f"{cache.name}/ removed with {entries} entries"

        def rebuilt() -> tuple[bool, str]:
            back = wait_until(cache.exists, 60, every=1.0)
            return True, "the cache folder was written again" if back else "no cache written"

        self._after(record, rebuilt)

    def _kill_worker(self, record: FaultRecord, _length: float) -> None:
        record.started_at = self.rel()
        collector = self.server.collector_pid()
        others = [p for p in self.server.workers() if p != collector]
        if not others:
            raise RuntimeError(f"no worker other than the collector ({collector}) to kill")
        victim = others[0]
        os.kill(victim, signal.SIGKILL)
        self.kills.append(now())
        record.ended_at = self.rel()
        record.detail = f"PID {victim} killed (the collector, PID {collector}, kept running)"

        before = set(self.server.workers())

        def replaced() -> tuple[bool, str]:
            began = now()
            answered: set[int] = set()

            def serving() -> bool:
                new = set(self.server.workers()) - before
                if not new:
                    return False
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    body = httpx.get(f"{self.server.url}/api/v1/status", timeout=30).json()
                    answered.add(int(body["process"]["pid"]))
                return bool(answered & new)

            if wait_until(serving, RECOVERY_DEADLINE, every=0.2):
                pid = next(iter(answered - before))
                return True, f"uvicorn's new worker (PID {pid}) served {now() - began:.1f} s later"
            return False, f"no new worker served; workers now {self.server.workers()}"

        self._after(record, replaced)


# ----------------------------------------------------------------------------------------------
# Load roles (each runs as its own process: ``soak.py --role NAME --config FILE --output FILE``)


@dataclass
class Tally:
    """Latencies and outcomes of one load role, by label."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[tuple[float, str, str]] = field(default_factory=list)
    """(monotonic time, label, what happened): 5xx answers, errors, timeouts."""
    per_second: Counter[int] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, label: str, seconds: float, status: int = 200) -> None:
        with self._lock:
            self.latencies[label].append(seconds)
            self.statuses[label][status] += 1
            self.per_second[int(now())] += 1

    def fail(self, label: str, what: str, status: int | None = None) -> None:
        """A failed request or click, at the time it failed (a request in flight when a worker
        was killed fails after the kill, so it falls in the kill's window)."""
        with self._lock:
            self.failures.append((now(), label, what[:300]))
            if status is not None:
                self.statuses[label][status] += 1

    def dump(self, path: Path) -> None:
        data = {
            "latencies": dict(self.latencies),
            "statuses": {k: {str(s): n for s, n in v.items()} for k, v in self.statuses.items()},
            "failures": self.failures,
            "per_second": {str(k): v for k, v in self.per_second.items()},
            "notes": self.notes,
        }
        path.write_text(json.dumps(data))


def _api_requests(config: dict[str, Any]) -> list[tuple[str, str, Callable[[], dict[str, Any]]]]:
    """(label, path, parameters) of the API mix; uncached ones draw a random range each time."""
    end = datetime.fromisoformat(config["data_end"])
    first = datetime.fromisoformat(config["data_start"])
    week = {"start": (end - timedelta(days=7)).isoformat(), "end": end.isoformat()}
    year = {"start": (end - timedelta(days=365)).isoformat(), "end": end.isoformat()}
    rng = random.Random(config["seed"])
    span_days = max(2, (end - first).days)

    def random_range(days: int) -> dict[str, Any]:
        days = min(days, span_days - 1)  # a small store is shorter than a month
        offset = rng.randrange(0, span_days - days)
        start = (first + timedelta(days=offset)).replace(hour=0, minute=0)
        return {"start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat()}

    fixed: Callable[[dict[str, Any]], Callable[[], dict[str, Any]]] = lambda p: lambda: p  # noqa: E731
    return [
        ("prices/latest", "/api/v1/prices/latest", fixed({})),
        ("prices/series 7d (cached)", "/api/v1/prices/series", fixed(week)),
        ("prices/series latest day (moves)", "/api/v1/prices/series", fixed({})),
        ("generation/mix 1y (cached)", "/api/v1/generation/mix", fixed(year)),
        ("prices/series 7d csv", "/api/v1/prices/series", fixed({**week, "format": "csv"})),
        ("generation/mix 7d arrow", "/api/v1/generation/mix", fixed({**week, "format": "arrow"})),
        (
            "generation/mix random week (uncached)",
            "/api/v1/generation/mix",
            lambda: random_range(7),
        ),
        ("prices/stats random month (uncached)", "/api/v1/prices/stats", lambda: random_range(30)),
        ("status", "/api/v1/status", fixed({})),
        ("metadata/regions (baseline)", "/api/v1/metadata/regions", fixed({})),
    ]


#: Relative frequency of each API request of the mix (same order as _api_requests).
API_WEIGHTS = (3, 3, 2, 2, 1, 1, 1, 1, 1, 1)


def role_api(config: dict[str, Any], tally: Tally) -> None:
    """Closed-loop API clients: each thread sends the next request when the last is answered."""
    requests = _api_requests(config)
    end_at = float(config["end_at"])

    def client(index: int) -> None:
        rng = random.Random(config["seed"] * 1000 + index)
        with httpx.Client(base_url=config["base_url"], timeout=60) as http:
            while now() < end_at:
                label, path, params = rng.choices(requests, weights=API_WEIGHTS)[0]
                began = now()
                try:
                    answer = http.get(path, params=params())
                except Exception as exc:  # a transport error, or a bug here: counted, go on
                    tally.fail(label, f"{type(exc).__name__}: {exc}")
                    time.sleep(0.2)
                    continue
                took = now() - began
                if answer.status_code >= 500 or answer.status_code not in (200, 304):
                    tally.fail(
                        label, f"HTTP {answer.status_code}: {answer.text[:200]}", answer.status_code
                    )
                else:
                    tally.ok(label, took, answer.status_code)

    _wait_start(config)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(int(config["threads"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def role_sessions(config: dict[str, Any], tally: Tally) -> None:
    """Protocol-level dashboard sessions (benchmarks/dashclient.py): open, then click on.

    Each session follows :data:`SESSION_SCRIPT` from a place of its own, one click every few
    seconds; a session that fails (its worker killed) is replaced by a new one, as a person
    would reload the page.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dashclient import DashboardSession

    count = int(config["count"])
    end_at = float(config["end_at"])
    think = tuple(config["think"])

    def user(index: int) -> None:
        rng = random.Random(config["seed"] * 1000 + index)
        time.sleep(index * float(config["ramp"]) / max(1, count))
        while now() < end_at:
            session = DashboardSession(config["base_url"] + "/")
            try:
                tally.ok("open (first view complete)", session.open())
                for step in range(len(SESSION_SCRIPT) * 1000):
                    time.sleep(rng.uniform(*think))
                    if now() >= end_at:
                        break
                    action = SESSION_SCRIPT[step % len(SESSION_SCRIPT)]
                    took = session.interact(action)
                    if took > 0:  # 0.0: the click changed nothing, nothing was sent
                        tally.ok(action, took)
            except Exception as exc:
                tally.fail("session", f"{type(exc).__name__}: {exc}")
                time.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    session.close()

    _wait_start(config)
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, end_at - now() + 180))


#: Browser steps: (label, what to click, the named data source that must fill, its field).
BROWSER_STEPS = (
    ("browser: first view", None, "today-mix-source", "bucket_end"),
    ("browser: tab Generation", "Generation", "generation-mix-source", "bucket_end"),
    ("browser: range 30d", "30d", "generation-mix-source", "bucket_end"),
    ("browser: tab Prices", "Prices", "price-series-source", "bucket_end"),
)
_ROWS_JS = """([name, field]) => {
    const doc = window.Bokeh && window.Bokeh.documents[0];
    const source = doc && doc.get_model_by_name(name);
    const column = source && source.data[field];
    return column ? column.length : -1;
}"""


def role_browsers(config: dict[str, Any], tally: Tally) -> None:
    """Real Chromium pages: load the dashboard, change tab and range, time each until drawn."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    count = int(config["count"])
    end_at = float(config["end_at"])
    rng = random.Random(config["seed"])
    errors: list[str] = []
    _wait_start(config)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        contexts = [
            browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(count)
        ]
        pages = []
        for context in contexts:
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)[:200]))
            pages.append(page)
        step_of = [0] * count
        while now() < end_at:
            for i, page in enumerate(pages):
                if now() >= end_at:
                    break
                label, click, source, column = BROWSER_STEPS[step_of[i]]
                began = now()
                try:
                    before = int(page.evaluate(_ROWS_JS, [source, column])) if click else -1
                    if click is None:
                        answer = page.goto(config["base_url"] + "/", wait_until="commit")
                        if answer is not None and answer.status >= 500:
                            tally.fail(label, f"HTTP {answer.status}", answer.status)
                    elif click.endswith("d"):
                        page.locator(".nd-range button", has_text=re.compile(f"^{click}$")).click()
                    else:
                        tab = re.compile(f"^{re.escape(click)}$")
                        page.locator(".bk-tab", has_text=tab).first.click()
                    page.wait_for_function(
                        f"() => {{ const n = ({_ROWS_JS})({json.dumps([source, column])});"
                        f" return n > 0 && n !== {before}; }}",
                        timeout=30_000,
                    )
                    tally.ok(label, now() - began)
                    step_of[i] = (step_of[i] + 1) % len(BROWSER_STEPS)
                except PlaywrightError as exc:
                    tally.fail(label, f"{type(exc).__name__}: {str(exc)[:200]}")
                    step_of[i] = 0  # a fresh page load (the worker behind it may have died)
            time.sleep(rng.uniform(*config["think"]) / max(1, count))
        browser.close()
    tally.notes["page_errors"] = errors[:20]
    tally.notes["page_error_count"] = len(errors)


def _wait_start(config: dict[str, Any]) -> None:
    time.sleep(max(0.0, float(config["start_at"]) - now()))


ROLES: dict[str, Callable[[dict[str, Any], Tally], None]] = {
    "api": role_api,
    "sessions": role_sessions,
    "browsers": role_browsers,
}


def run_role(role: str, config_path: Path, output: Path) -> int:
    """The body of a load process: run the role, write its tally."""
    config = json.loads(config_path.read_text())
    tally = Tally()
    try:
        ROLES[role](config, tally)
    except Exception as exc:
        tally.fail(role, f"the {role} load stopped: {type(exc).__name__}: {exc}")
        log.exception("role %s", role)
    tally.dump(output)
    return 0


# ----------------------------------------------------------------------------------------------
# The run


@dataclass
class Options:
    store: Path | None
    small: bool
    seconds: float
    interval_seconds: float
    sessions: int
    browsers: int
    api_clients: int
    think: tuple[float, float]
    workdir: Path | None
    keep: bool
    json_path: Path | None
    seed: int


@dataclass
class Invariant:
    name: str
    ok: bool
    detail: str


@dataclass
class Result:
    """Everything the run measured (``--json`` writes it)."""

    command: str
    machine: list[str]
    store: dict[str, Any]
    options: dict[str, Any]
    api: dict[str, Any] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    browsers: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    freshness: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    invariants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(i["ok"] for i in self.invariants)


class LoadProcess:
    """One load role as a subprocess of this script."""

    def __init__(self, role: str, config: dict[str, Any], folder: Path) -> None:
        self.role = role
        self.config_path = folder / f"{role}.config.json"
        self.output = folder / f"{role}.out.json"
        self.log_path = folder / f"{role}.log"
        self.config_path.write_text(json.dumps(config))
        with self.log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--role",
                    role,
                    "--config",
                    str(self.config_path),
                    "--output",
                    str(self.output),
                ],
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def finish(self, timeout: float) -> dict[str, Any]:
        """Wait for the role to end and read its tally (killing it if it overruns)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        if not self.output.exists():
            tail = self.log_path.read_text(errors="replace")[-2000:]
            return {
                "latencies": {},
                "statuses": {},
                "per_second": {},
                "notes": {},
                "failures": [[now(), self.role, f"no output; log: {tail}"]],
            }
        result: dict[str, Any] = json.loads(self.output.read_text())
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def machine() -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    return [
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024**2:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    ]


def summarise_latencies(
    tally: dict[str, Any], seconds: float, kills: list[float]
) -> dict[str, dict[str, Any]]:
    """Per label: count, rate, percentiles, 5xx and other failures (cut by a kill or not)."""
    rows: dict[str, dict[str, Any]] = {}
    labels = set(tally["latencies"]) | {f[1] for f in tally["failures"]}
    for label in sorted(labels):
        values = tally["latencies"].get(label, [])
        statuses = tally["statuses"].get(label, {})
        failures = [f for f in tally["failures"] if f[1] == label]
        cut = [f for f in failures if any(0 <= f[0] - k <= KILL_WINDOW for k in kills)]
        rows[label] = {
            "count": len(values),
            "per_second": len(values) / seconds if seconds else 0.0,
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "server_errors": sum(n for s, n in statuses.items() if int(s) >= 500),
            "failures": len(failures),
            "failures_cut_by_kill": len(cut),
            "examples": [f[2] for f in failures if f not in cut][:3],
        }
    return rows


def run_soak(options: Options) -> Result:
    """The whole soak; returns what it measured (the server and load are gone when it returns)."""
    store_arg = options.store
    if store_arg is None and not options.small:
        env = os.environ.get("NEMDASH_BENCH_STORE")
        store_arg = Path(env) if env else None
    small = options.small or store_arg is None
    base_tmp = Path(tempfile.gettempdir())
    if options.workdir is not None:
        base = options.workdir
        base.mkdir(parents=True, exist_ok=True)
    elif store_arg is not None and not same_device(store_arg, base_tmp):
        base = store_arg.parent
    else:
        base = base_tmp
    work = Path(tempfile.mkdtemp(prefix="nemdash-soak-", dir=base))
    log.info("working in %s", work)
    server: ServerProcess | None = None
    loads: list[LoadProcess] = []
    try:
        source = build_small_store(work / "template") if small else store_arg
        assert source is not None
        copy = work / "store"
        began = now()
        copied = working_copy(source, copy)
        copy_seconds = now() - began
        info = describe_store(copy, "small demo store (--small)" if small else str(source))
        log.info("store copied in %.1f s: %s", copy_seconds, copied)
        result = Result(
            command=" ".join(["bash benchmarks/soak", *sys.argv[1:]]),
            machine=machine(),
            store={
                **asdict(info),
                "resume": f"{info.resume:%Y-%m-%d %H:%M}",
                "copy": copied,
                "copy_seconds": copy_seconds,
            },
            options={k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        )
        publisher = Publisher(copy / "nemweb", info.resume, options.interval_seconds)
        nemweb = FaultyNemweb(timeout_sleep=HTTP_TIMEOUT + 1)
        with NemwebMirror(copy / "nemweb", intercept=nemweb.intercept) as mirror:
            server = ServerProcess(copy, mirror.url, work / "server.log", work / "server.pgid")
            server.start()
            started = now()
            server.wait_ready(timeout=300)
            result.server["start_seconds"] = now() - started
            supervisor = server.pid
            watcher = FreshnessWatcher(server.url)
            status = StatusSampler(server.url)
            sampler = Sampler(server)
            collected = CollectedWatcher(copy)
            for part in (watcher, status, sampler, collected):
                part.start()
            expected_cache: dict[str, Any] = {"n": 0, "rows": defaultdict(Counter)}
            expected_lock = threading.Lock()

            def expected() -> dict[str, Counter[datetime]]:
                with expected_lock:  # parse each published file once
                    done = publisher.snapshot()
                    fresh = expected_rows(copy / "nemweb", done[expected_cache["n"] :])
                    for table, counts in fresh.items():
                        expected_cache["rows"][table].update(counts)
                    expected_cache["n"] = len(done)
                    return {t: Counter(c) for t, c in expected_cache["rows"].items()}

            t0 = now() + 3.0  # the load processes start together at t0
            end_at = t0 + options.seconds
            data_end = info.resume
            common = {
                "base_url": server.url,
                "start_at": t0,
                "end_at": end_at,
                "seed": options.seed,
                "think": list(options.think),
            }
            span_start = data_end - timedelta(days=365 * 5)
            first_day = datetime.fromisoformat(info.start) if info.start else span_start
            api_config = {
                **common,
                "threads": options.api_clients,
                "data_end": data_end.isoformat(),
                "data_start": max(first_day, span_start).isoformat(),
            }
            protocol = max(0, options.sessions - options.browsers)
            loads.append(LoadProcess("api", api_config, work))
            if protocol:
                loads.append(
                    LoadProcess(
                        "sessions",
                        {**common, "count": protocol, "ramp": min(30.0, options.seconds / 6)},
                        work,
                    )
                )
            if options.browsers:
                loads.append(LoadProcess("browsers", {**common, "count": options.browsers}, work))
            faults = FaultRunner(
                server=server,
                nemweb=nemweb,
                publisher=publisher,
                watcher=watcher,
                seconds=options.seconds,
                t0=t0,
                expected=expected,
            )
            time.sleep(max(0.0, t0 - now()))
            publisher.start()
            faults.start()
            time.sleep(max(0.0, end_at - now()))
            # Stop publishing; let the load processes finish and the collector catch up.
            publisher.stop()
            tallies = {load.role: load.finish(timeout=240) for load in loads}
            loads = []
            faults.stop()
            last = publisher.latest
            caught = watcher.wait_for(last, CATCH_UP_DEADLINE)
            wait_until(
                lambda: all(
                    collected_upto(copy).get(table, datetime.min) >= last
                    for table in ("dispatch_price", "unit_scada", "trading_price")
                ),
                CATCH_UP_DEADLINE,
                every=1.0,
            )
            faults.join(RECOVERY_DEADLINE + 60)
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for _ in range(6):  # both workers' counters, most likely
                    status.sample(client)
            for part in (watcher, status, sampler, collected):
                part.stop()
            supervisor_alive = server.alive() and server.pid == supervisor
            workers_at_end = server.workers()
            exit_code = server.stop()
        result.server.update(
            {
                "supervisor_alive_throughout": supervisor_alive,
                "workers_at_end": len(workers_at_end),
                "exit_code": exit_code,
                "log_tail": server.log_tail(3000),
            }
        )
        _summarise(
            result,
            options,
            tallies=tallies,
            publisher=publisher,
            watcher=watcher,
            collected=collected,
            status=status,
            sampler=sampler,
            faults=faults,
            t0=t0,
            caught=caught,
            copy=copy,
            info=info,
            expected=expected(),
        )
        return result
    finally:
        for load in loads:
            load.kill()
        if server is not None:
            server.stop()
        if options.keep:
            log.warning("kept the working copy and logs in %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _summarise(
    result: Result,
    options: Options,
    *,
    tallies: dict[str, dict[str, Any]],
    publisher: Publisher,
    watcher: FreshnessWatcher,
    collected: CollectedWatcher,
    status: StatusSampler,
    sampler: Sampler,
    faults: FaultRunner,
    t0: float,
    caught: float | None,
    copy: Path,
    info: StoreInfo,
    expected: dict[str, Counter[datetime]],
) -> None:
    """Fill in the figures and check the invariants."""
    seconds = options.seconds
    kills = faults.kills
    empty: dict[str, Any] = {"latencies": {}, "statuses": {}, "failures": [], "per_second": {}}
    api = tallies.get("api", empty)
    sessions = tallies.get("sessions", empty)
    browsers = tallies.get("browsers", empty)
    result.api = {
        "endpoints": summarise_latencies(api, seconds, kills),
        "requests_per_second": sum(len(v) for v in api["latencies"].values()) / seconds,
    }
    result.sessions = {
        "interactions": summarise_latencies(sessions, seconds, kills),
        "count": max(0, options.sessions - options.browsers),
    }
    result.browsers = {
        "count": options.browsers,
        "steps": summarise_latencies(browsers, seconds, kills),
        "page_errors": browsers.get("notes", {}).get("page_errors", []),
        "page_error_count": browsers.get("notes", {}).get("page_error_count", 0),
    }
    samples = [s for s in sampler.samples if t0 <= s.t <= t0 + seconds]
    rss = [s.rss for s in samples]
    timeline = []
    step = max(1, len(samples) // 10)
    for a, b in zip(samples[::step], samples[step::step], strict=False):
        timeline.append(
            {
                "t": round(b.t - t0),
                "rss_mb": b.rss / 2**20,
                "cpu_percent": 100 * (b.cpu - a.cpu) / max(1e-9, b.t - a.t),
                "processes": b.processes,
            }
        )
    cpu = (samples[-1].cpu - samples[0].cpu) / (samples[-1].t - samples[0].t) if samples else None
    result.server.update(
        {
            "rss_mb_min": min(rss) / 2**20 if rss else None,
            "rss_mb_median": percentile([float(r) for r in rss], 50),
            "rss_mb_max": max(rss) / 2**20 if rss else None,
            "cpu_cores_mean": cpu,
            "timeline": timeline,
        }
    )
    if result.server["rss_mb_median"] is not None:
        result.server["rss_mb_median"] /= 2**20
    result.cache = status.cache_ratios()
    published = publisher.snapshot()
    lags = []
    during_nemweb = []
    windows = [
        (t0 + r.started_at, t0 + r.ended_at + 30)
        for r in faults.records
        if r.started_at is not None and r.ended_at is not None
    ]
    collected_lags = [
        seen - item.at
        for item in published
        if (seen := collected.seen_at(item.interval_end)) is not None
    ]
    for item in published:
        seen = watcher.seen_at(item.interval_end)
        if seen is None:
            continue
        lag = seen - item.at
        lags.append(lag)
        if not any(a <= item.at <= b for a, b in windows):
            during_nemweb.append(lag)
    result.freshness = {
        "intervals": len(published),
        "seen": len(lags),
        "p50": percentile(lags, 50),
        "p95": percentile(lags, 95),
        "max": max(lags) if lags else None,
        "over_30s": sum(1 for lag in lags if lag > 30),
        "outside_faults_p95": percentile(during_nemweb, 95),
        "outside_faults_max": max(during_nemweb) if during_nemweb else None,
        "outside_faults_over_30s": sum(1 for lag in during_nemweb if lag > 30),
        "caught_up": caught is not None,
        "collected_p50": percentile(collected_lags, 50),
        "collected_p95": percentile(collected_lags, 95),
        "collected_max": max(collected_lags) if collected_lags else None,
    }
    result.faults = [asdict(r) for r in faults.records]

    # -- invariants ---------------------------------------------------------------------------
    checks: list[Invariant] = []
    final = check_store(copy, expected, dict.fromkeys(expected, publisher.latest))
    checks.append(
        Invariant(
            "every published interval in the store, none duplicated", final.ok, final.summary()
        )
    )
    lake = Lake(Settings(data_dir=copy).paths)
    names = {Path(f).name: f for item in published for f in item.files}
    sources = {s.name: s.sha256 for s in lake.sources() if s.name in names}
    differ = [
        n
        for n, digest in sources.items()
        if hashlib.sha256((copy / "nemweb" / names[n]).read_bytes()).hexdigest() != digest
    ]
    not_ingested = sorted(set(names) - set(sources))
    checks.append(
        Invariant(
            "every published file ingested, byte-identical (no HTML page stored)",
            not differ and not not_ingested,
            f"{len(sources)} of {len(names)} files ingested"
            + (f"; differ: {differ[:3]}" if differ else "")
            + (f"; not ingested: {not_ingested[:3]}" if not_ingested else ""),
        )
    )
    quarantined = {q.name for q in lake.quarantined()}
    corrupt = set(publisher.corrupt)
    checks.append(
        Invariant(
            "the corrupt zip quarantined, nothing else",
            quarantined == corrupt,
            f"quarantined: {sorted(quarantined) or 'nothing'}",
        )
    )
    server_errors = (
        sum(r["server_errors"] for r in result.api["endpoints"].values())
        + sum(r["server_errors"] for r in result.sessions["interactions"].values())
        + sum(r["server_errors"] for r in result.browsers["steps"].values())
        + len(watcher.server_errors)
        + len(status.server_errors)
    )
    examples = [e for _, e in watcher.server_errors + status.server_errors][:2]
    checks.append(
        Invariant("no 5xx answer", server_errors == 0, f"{server_errors} seen {examples or ''}")
    )
    unexplained = [
        (label, row["failures"] - row["failures_cut_by_kill"], row["examples"])
        for group in (result.api["endpoints"], result.sessions["interactions"])
        for label, row in group.items()
        if row["failures"] > row["failures_cut_by_kill"]
    ]
    checks.append(
        Invariant(
            "no request failed except those cut off by a worker kill",
            not unexplained,
            "; ".join(f"{label}: {n} ({ex[:1]})" for label, n, ex in unexplained)
            or "none outside the kills' windows",
        )
    )
    for record in faults.records:
        checks.append(
            Invariant(
                f"recovered: {record.name}",
                bool(record.recovered) and record.store_ok is not False,
                f"{record.outcome}; store: {record.store}",
            )
        )
    checks.append(
        Invariant(
            "collector caught up once publishing stopped",
            caught is not None,
            f"last interval {publisher.latest:%Y-%m-%d %H:%M} "
            + ("visible" if caught is not None else "NOT visible"),
        )
    )
    checks.append(
        Invariant(
            "no restart by hand: the same server process throughout, exit 0 on SIGTERM",
            bool(result.server["supervisor_alive_throughout"]) and result.server["exit_code"] == 0,
            f"supervisor alive: {result.server['supervisor_alive_throughout']}, "
            f"{result.server['workers_at_end']} workers at the end, "
            f"exit status {result.server['exit_code']}",
        )
    )
    checks.append(
        Invariant(
            "the publisher ran without error",
            publisher.error is None,
            repr(publisher.error) if publisher.error else f"{len(published)} intervals",
        )
    )
    result.invariants = [asdict(c) for c in checks]


# ----------------------------------------------------------------------------------------------
# The report


def markdown(result: Result, options: Options) -> str:
    """The section of docs/benchmarks.md."""
    store = result.store
    lines = [
        "## Soak (issue 8): everything at once, with faults",
        "",
        f"Machine: {result.machine[0]}. Store: {store['source']} ({store['units']} units, "
        f"{store['start']} .. {store['end']}, {store['unit_scada_rows']:,} SCADA rows, "
        f"{store['lake_bytes'] / 1e9:.2f} GB of Parquet), worked on as a copy (hard links for "
        f"{store['copy']['linked']:,} immutable files, {store['copy']['copied']:,} copied, "
        f"{store['copy_seconds']:.1f} s). `nemdash serve --workers {WORKERS}` collecting from a "
        f"local NEMWEB mirror whose live clock published a new interval every "
        f"{options.interval_seconds:g} s for {options.seconds:g} s "
        f"({result.freshness['intervals']} intervals) while "
        f"{options.api_clients} closed-loop API clients, "
        f"{result.sessions['count']} protocol-level dashboard sessions "
        f"(benchmarks/dashclient.py) and {options.browsers} Chromium pages ran. "
        f"Command: `{result.command}`.",
        "",
    ]
    verdict = "**all invariants held**" if result.ok else "**SOME INVARIANTS FAILED**"
    lines += [f"Result: {verdict}.", ""]
    lines += [
        "| invariant | held | detail |",
        "|---|:---:|---|",
        *(
            f"| {i['name']} | {'yes' if i['ok'] else '**NO**'} | {_cell(i['detail'])} |"
            for i in result.invariants
        ),
        "",
        "Faults (times in seconds from the start of the load):",
        "",
        "| at | fault | what exactly | status meanwhile | outcome | new data after |",
        "|---:|---|---|---|---|---:|",
    ]
    for f in result.faults:
        at = "-" if f["started_at"] is None else f"{f['started_at']:.0f}"
        lines.append(
            f"| {at} | {f['name']} | {_cell(f['detail'])} | {_cell(f['status_during'] or '-')} "
            f"| {_cell(f['outcome'])} | {secs(f['recovery_seconds'])} |"
        )
    api = result.api
    lines += [
        "",
        f"API: **{api['requests_per_second']:,.0f} requests/s** in all "
        f"({options.api_clients} clients, no pause between requests).",
        "",
        "| endpoint | requests | req/s | p50 | p95 | p99 | 5xx | failed (cut by a kill) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in api["endpoints"].items():
        lines.append(_latency_row(label, row, with_rate=True))
    lines += [
        "",
        f"Dashboard sessions ({result.sessions['count']} protocol-level, think time "
        f"{options.think[0]:g}-{options.think[1]:g} s; {options.browsers} Chromium pages):",
        "",
        "| interaction | count | p50 | p95 | p99 | 5xx | failed (cut by a kill) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for group in (result.sessions["interactions"], result.browsers["steps"]):
        for label, row in group.items():
            lines.append(_latency_row(label, row, with_rate=False))
    if result.browsers["page_error_count"]:
        lines += [
            "",
            f"Browser page errors: {result.browsers['page_error_count']} "
            f"(first: {_cell(str(result.browsers['page_errors'][:2]))})",
        ]
    fresh = result.freshness
    server = result.server
    cache = result.cache
    lines += [
        "",
        f"Freshness (file written -> visible in `/api/v1/prices/latest`, {fresh['seen']} of "
        f"{fresh['intervals']} intervals): p50 {secs(fresh['p50'])}, p95 {secs(fresh['p95'])}, "
        f"max {secs(fresh['max'])}, {fresh['over_30s']} over 30 s; outside the faults' windows "
        f"p95 {secs(fresh['outside_faults_p95'])}, max {secs(fresh['outside_faults_max'])}, "
        f"{fresh['outside_faults_over_30s']} over 30 s. Collected (files written -> the "
        f"collector's watermark past them, read from the manifest): p50 "
        f"{secs(fresh['collected_p50'])}, p95 {secs(fresh['collected_p95'])}, max "
        f"{secs(fresh['collected_max'])}.",
        "",
        f"Server (process tree, sampled every second): RSS {server['rss_mb_min']:,.0f} / "
        f"{server['rss_mb_median']:,.0f} / {server['rss_mb_max']:,.0f} MB (min / median / max), "
        f"CPU {server['cpu_cores_mean']:.2f} cores on average; started in "
        f"{server['start_seconds']:.0f} s. Cache hit ratios (summed over workers): "
        + ", ".join(
            f"{layer} {_ratio(v['hit_ratio'])} ({v['hits']:,} hits)" for layer, v in cache.items()
        )
        + ".",
        "",
        "| t (s) | RSS (MB) | CPU (%) | processes |",
        "|---:|---:|---:|---:|",
        *(
            f"| {p['t']} | {p['rss_mb']:,.0f} | {p['cpu_percent']:.0f} | {p['processes']} |"
            for p in server["timeline"]
        ),
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _latency_row(label: str, row: dict[str, Any], *, with_rate: bool) -> str:
    rate = f" {row['per_second']:,.1f} |" if with_rate else ""
    return (
        f"| {label} | {row['count']:,} |{rate} {ms(row['p50'])} | {ms(row['p95'])} | "
        f"{ms(row['p99'])} | {row['server_errors']} | {row['failures']} "
        f"({row['failures_cut_by_kill']}) |"
    )


# ----------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", type=Path, help="a built demo store (default $NEMDASH_BENCH_STORE)"
    )
    parser.add_argument("--small", action="store_true", help="build a small demo store instead")
    parser.add_argument("--seconds", type=float, default=600, help="length of the load")
    parser.add_argument("--interval-seconds", type=float, default=5, help="real s per interval")
    parser.add_argument("--sessions", type=int, default=100, help="dashboard sessions in all")
    parser.add_argument("--browsers", type=int, default=2, help="of them, real Chromium pages")
    parser.add_argument("--api-clients", type=int, default=6, help="closed-loop API clients")
    parser.add_argument(
        "--think", type=float, nargs=2, default=(5.0, 15.0), help="s between a session's clicks"
    )
    parser.add_argument("--workdir", type=Path, help="where the working copy goes")
    parser.add_argument("--keep", action="store_true", help="keep the working copy and logs")
    parser.add_argument("--json", type=Path, help="write everything measured here")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.role:
        return run_role(args.role, args.config, args.output)
    if args.browsers and not CHROMIUM.exists():
        log.warning("%s is missing: running without browsers", CHROMIUM)
        args.browsers = 0
    options = Options(
        store=args.store,
        small=args.small,
        seconds=args.seconds,
        interval_seconds=args.interval_seconds,
        sessions=args.sessions,
        browsers=min(args.browsers, args.sessions),
        api_clients=args.api_clients,
        think=(args.think[0], args.think[1]),
        workdir=args.workdir,
        keep=args.keep,
        json_path=args.json,
        seed=args.seed,
    )

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # the finally blocks stop the server and the load

    signal.signal(signal.SIGTERM, stop)
    result = run_soak(options)
    print(markdown(result, options))
    if options.json_path is not None:
        data = asdict(result)
        data["ok"] = result.ok
        options.json_path.write_text(json.dumps(data, indent=1, default=str))
    for item in result.invariants:
        if not item["ok"]:
            log.error("invariant failed: %s: %s", item["name"], item["detail"])
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
