"""Real server processes: ``nemdash.server.serve()`` in a subprocess, configured by ``NEMDASH_*``
variables, on a free port of 127.0.0.1, collecting from a local NEMWEB mirror of the fixtures.

* SIGTERM while the collector is downloading: the process exits 0, the store is consistent (every
  live file readable, rows = what the recorded sources hold), and a later cycle completes it with
  nothing lost or doubled.
* Two workers: exactly one holds the collector lock and collects; both serve.
* NEMWEB unreachable: status degraded, data still served, and SIGTERM still exits 0 at once.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from api_support import (
    ServerProcess,
    copy_store,
    flock_holders,
    free_port,
    server_settings,
    shared_store,
    wait_for,
)
from nemdash.collector.loop import collect
from nemdash.config import Settings
from nemdash.nemweb.mirror import MirrorResponse, NemwebMirror
from nemdash.query.connection import Database
from nemdash.store.lake import Lake
from nemdash.tables import TABLES
from nemweb_server import build_tree

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)"),
]

CURRENT = "Reports/CURRENT/"
#: Seconds each zip download takes on the slowed mirror: long enough to signal mid-way.
SLOW_ZIP = 1.5


class SlowNemweb:
    """A mirror of the CURRENT fixtures whose zips take :data:`SLOW_ZIP` seconds each."""

    def __init__(self, tree: Path) -> None:
        self.downloading = threading.Event()
        self.slow = True
        self.mirror = NemwebMirror(tree, intercept=self._intercept)

    def _intercept(self, site_path: str) -> MirrorResponse | None:
        if site_path.lower().endswith(".zip") and self.slow:
            self.downloading.set()
            time.sleep(SLOW_ZIP)
        return None


@pytest.fixture
def tree(tmp_path: Path, nemweb_root: Path) -> Path:
    return build_tree(tmp_path / "nemweb", nemweb_root, include=lambda p: p.startswith(CURRENT))


@pytest.fixture
def slow_nemweb(tree: Path) -> Iterator[SlowNemweb]:
    site = SlowNemweb(tree)
    with site.mirror:
        yield site


def check_consistent(settings: Settings) -> dict[str, int]:
    """Every live file reads; each table holds exactly the rows its recorded sources gave."""
    lake = Lake(settings.paths)
    for live in lake.live_files():
        assert live.path.exists(), live.path
        assert pq.read_metadata(live.path).num_rows == live.rows
    expected: dict[str, int] = {}
    for source in lake.sources():
        for table, rows in source.rows.items():
            expected[table] = expected.get(table, 0) + rows
    db = Database(settings, lake)
    try:
        counts = {
            name: int(db.query(f"SELECT count(*) AS n FROM {name}").table.column("n")[0].as_py())
            for name in TABLES
        }
    finally:
        db.close()
    assert {t: n for t, n in counts.items() if n} == expected
    return counts


def test_sigterm_while_it_ingests_exits_0_and_leaves_a_consistent_store(
    tmp_path: Path, slow_nemweb: SlowNemweb
) -> None:
    settings = server_settings(
        tmp_path / "data",
        server_collect=True,
        nemweb_url=slow_nemweb.mirror.url,
        http_concurrency=1,
        poll_delay=0,
        http_timeout=30.0,
    )
    server = ServerProcess(settings, log=tmp_path / "server.log")
    try:
        server.start()
        assert slow_nemweb.downloading.wait(timeout=60), server.log()
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.log()
        took = time.monotonic() - started
    finally:
        server.stop()
    log = server.log()
    assert "collector stopped" in log
    assert took < settings.shutdown_timeout
    lake = Lake(settings.paths)
    ingested = lake.sources()
    assert 1 <= len(ingested) < 6, [s.name for s in ingested]  # stopped part way, write finished
    with lake.writer() as writer:
        writer.vacuum(grace_seconds=0)  # orphans of an abandoned write would go here
    on_disk = {p.resolve() for p in settings.paths.lake.rglob("*.parquet")}
    assert on_disk == {f.path.resolve() for f in lake.live_files()}
    before = check_consistent(settings)
    # A later collection completes the store: nothing lost, nothing counted twice.
    slow_nemweb.slow = False
    report = collect(settings, once=True)
    assert report is not None
    assert len(lake.sources()) == 6
    after = check_consistent(settings)
    assert after["dispatch_price"] == 15  # 5 regions at 2025-12-27 00:05, 10 at 2019-04-30 10:35
    assert after["unit_scada"] == 390 + 493
    assert all(after[t] >= before[t] for t in TABLES)


def test_two_workers_serve_and_exactly_one_collects(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    shared_fixtures: Path,
    slow_nemweb: SlowNemweb,
) -> None:
    slow_nemweb.slow = False
    store = copy_store(
        shared_store(tmp_path_factory.getbasetemp(), shared_fixtures), tmp_path / "store"
    )
    settings = server_settings(
        store, server_collect=True, nemweb_url=slow_nemweb.mirror.url, poll_delay=0
    )
    server = ServerProcess(settings, workers=2, log=tmp_path / "server.log")
    lock = settings.paths.collector_lock
    try:
        server.start()
        assert wait_for(lambda: lock.exists() and len(flock_holders(lock)) == 1, 30)
        workers = server.children()
        holders = flock_holders(lock)
        assert len(holders) == 1
        collector = holders.pop()
        assert collector in workers
        assert server.process is not None
        assert collector != server.process.pid  # a worker, not the supervisor
        seen: dict[int, dict[str, object]] = {}

        def both_answered() -> bool:
            body = httpx.get(f"{server.url}/api/v1/status", timeout=10).json()
            seen[body["process"]["pid"]] = body["collector"]
            return len(seen) >= 2

        assert wait_for(both_answered, timeout=60, interval=0.01), seen
        roles = {pid: info["role"] for pid, info in seen.items()}
        assert sorted(roles.values()) == ["collector", "reader"]
        assert all(info["pid"] == collector for info in seen.values())
        assert all(info["alive"] for info in seen.values())
        data = httpx.get(
            f"{server.url}/api/v1/prices/series",
            params={"start": "2019-05-16", "end": "2019-05-16"},
            timeout=30,
        )
        assert data.status_code == 200
        lake = Lake(settings.paths)
        assert wait_for(
            lambda: len([s for s in lake.sources() if "CURRENT" in (s.origin or "")]) == 6, 60
        )
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.log()
    finally:
        server.stop()
    assert not flock_holders(lock)
    names = [s.name for s in Lake(settings.paths).sources()]
    assert len(names) == len(set(names))  # each file ingested once, by the one collector


def test_with_nemweb_unreachable_a_server_process_serves_degraded_and_stops_at_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path
) -> None:
    store = copy_store(
        shared_store(tmp_path_factory.getbasetemp(), shared_fixtures), tmp_path / "store"
    )
    settings = server_settings(
        store, server_collect=True, nemweb_url=f"http://127.0.0.1:{free_port()}/"
    )
    server = ServerProcess(settings, log=tmp_path / "server.log")

    def failed_once(answer: httpx.Response) -> bool:
        cycle = answer.json()["collector"]["last_cycle"]
        return cycle is not None and bool(cycle["nemweb_down"])

    try:
        server.start(ready=failed_once)
        status = httpx.get(f"{server.url}/api/v1/status", timeout=10)
        assert status.status_code == 200
        assert status.json()["status"] == "degraded"
        data = httpx.get(
            f"{server.url}/api/v1/prices/series",
            params={"region": "NSW1", "start": "2019-05-16T17:55", "end": "2019-05-16T18:00"},
            timeout=30,
        )
        assert data.json()["data"][0]["rrp_mean"] == 275.84137
        started = time.monotonic()
        server.signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0, server.log()
        assert time.monotonic() - started < 15  # the collector's backoff sleep ends at once
    finally:
        server.stop()
