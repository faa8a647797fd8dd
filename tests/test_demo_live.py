"""The live demo: new intervals on an accelerated clock, picked up by the real collector.

A small demo store is built for the module (50 units, two days ending 2025-06-01 12:00); the
live demo then runs at 1,200 times real time (an interval every 0.25 s) through the real mirror,
collector and rollups, and the store is read back: the new intervals are there, whole, in order,
with nothing skipped or repeated, and old CURRENT files have rolled off.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta

import duckdb
import pytest

from nemdash.config import Settings
from nemdash.demo.build import DemoStore, build_demo_store
from nemdash.demo.live import DemoClock, LiveCycle, LiveDemo
from nemdash.errors import ConfigError
from nemdash.nemtime import NEM_TZ
from nemdash.nemweb import filenames
from nemdash.store.lake import Lake
from nemdash.tables import FEEDS

END = datetime(2025, 6, 1, 12, 0)
UNITS = 50
SPEED = 1200.0
FIVE_MINUTES = timedelta(minutes=5)
#: Generous bound for a few cycles on a busy 2-core machine (each takes about a second).
WAIT = 120.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    base = tmp_path_factory.mktemp("demo-live")
    settings = Settings(data_dir=base / "real", demo_data_dir=base / "demo")
    return build_demo_store(settings, days=2, units=UNITS, seed=3, end=END)


def query(lake: Lake, table: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Rows of ``SELECT sql`` over the live files of ``table``; ``args`` bind its ``?``."""
    files = [str(f.path) for f in lake.live_files(table)]
    with duckdb.connect() as con:
        return con.execute(f"SELECT {sql} FROM read_parquet(?) AS t", [*args, files]).fetchall()


def current_stamps(store: DemoStore, feed: str) -> list[datetime]:
    folder = store.tree_root / FEEDS[feed].current_dir
    stamps = []
    for path in folder.glob("*.zip"):
        parsed = filenames.parse(path.name)
        assert parsed is not None
        assert parsed.timestamp is not None
        stamps.append(parsed.timestamp.replace(tzinfo=None))
    return sorted(stamps)


def run_cycles(
    store: DemoStore, count: int, keep_current: timedelta = timedelta(days=2)
) -> tuple[LiveDemo, list[LiveCycle]]:
    """Run a live demo on its thread until ``count`` steps have completed, then stop it."""
    cycles: list[LiveCycle] = []
    live = LiveDemo(
        store.settings, store, speed=SPEED, keep_current=keep_current, on_cycle=cycles.append
    )
    with live:
        assert live.wait_for_cycles(count, timeout=WAIT), live.error
    assert live.error is None
    # The step running when stop() was called may have been cut short: judge completed ones.
    return live, cycles[:count]


def test_live_demo_publishes_intervals_that_the_collector_picks_up(store: DemoStore) -> None:
    lake = Lake(store.settings.paths)
    version = lake.version()
    assert query(lake, "dispatch_price", "max(settlementdate)") == [(END,)]

    live, cycles = run_cycles(store, 3, keep_current=timedelta(hours=3))

    published = [t for cycle in cycles for t in cycle.published]
    # One interval after another from the end of the built data: none skipped, none repeated.
    assert published[0] == END + FIVE_MINUTES
    assert all(b - a == FIVE_MINUTES for a, b in itertools.pairwise(published))
    versions = [cycle.version for cycle in cycles]
    assert versions[0] > version
    assert versions == sorted(set(versions))
    for cycle in cycles:
        assert cycle.report is not None
        assert cycle.report.ingested >= 3 * len(cycle.published)  # DISPATCHIS, SCADA, TRADINGIS
        assert not cycle.report.quarantined
    # The store holds each published interval whole: every unit, every region, once.
    last = published[-1]
    with duckdb.connect() as con:
        scada = [str(f.path) for f in lake.live_files("unit_scada")]
        per_interval = con.execute(
            "SELECT settlementdate, count(*), count(DISTINCT duid) FROM read_parquet(?) "
            "WHERE settlementdate > ? AND settlementdate <= ? GROUP BY 1 ORDER BY 1",
            [scada, END, last],
        ).fetchall()
        prices = [str(f.path) for f in lake.live_files("dispatch_price")]
        regions = con.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE settlementdate > ? "
            "AND settlementdate <= ? AND intervention = 0",
            [prices, END, last],
        ).fetchone()
    assert per_interval == [(t, UNITS, UNITS) for t in published]
    assert regions == (5 * len(published),)
    # The rollups followed, and the collector's lag is measured on the demo clock.
    assert query(lake, "price_30m", "max(bucket_end) >= ?", published[0]) == [(True,)]
    lag = lake.get_state("collector.Dispatch_SCADA.lag_seconds")
    assert lag is not None
    assert 0 <= float(lag) < 86400
    # CURRENT files more than three hours (demo time) older than the last interval are gone.
    stamps = current_stamps(store, "Dispatch_SCADA")
    assert live.latest is not None
    assert stamps[0] > live.latest - timedelta(hours=3)
    assert stamps[-1] >= last
    assert sum(cycle.rolled_off for cycle in cycles) > 0


def test_a_restarted_demo_carries_on_where_the_last_one_stopped(store: DemoStore) -> None:
    first, _ = run_cycles(store, 1)
    assert first.latest is not None
    second = LiveDemo(store.settings, store, speed=SPEED)
    resume = second.resume_point()
    assert resume >= first.latest  # (the step cut short by stop() may have published more)
    assert second.now() == resume.replace(tzinfo=NEM_TZ)
    _, cycles = run_cycles(store, 1)
    assert cycles[0].published[0] == resume + FIVE_MINUTES


def test_run_until_returns_when_the_event_is_set(store: DemoStore) -> None:
    stop = threading.Event()
    live = LiveDemo(store.settings, store, speed=SPEED, on_cycle=lambda _c: stop.set())
    live.run_until(stop)  # returns after its first step, on this thread
    assert live.cycles == 1
    assert live.latest is not None


def test_the_demo_clock_runs_speed_times_real_time() -> None:
    ticks = iter([100.0, 100.0, 105.0, 110.0])
    start = datetime(2025, 6, 1, 12, 0, tzinfo=NEM_TZ)
    clock = DemoClock(start, 60.0, monotonic=lambda: next(ticks))
    assert clock.now() == start
    assert clock.now() == start + timedelta(minutes=5)  # 5 real seconds at speed 60
    # 10 s elapsed = 10 demo minutes; 12:15 is 5 demo minutes = 5 real seconds away.
    assert clock.real_seconds_until(start + timedelta(minutes=15)) == pytest.approx(5.0)
    with pytest.raises(ConfigError):
        DemoClock(start, 0.0)


def test_a_speed_that_is_not_positive_is_refused(store: DemoStore) -> None:
    with pytest.raises(ConfigError):
        LiveDemo(store.settings, store, speed=-1)
