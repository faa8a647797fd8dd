"""The server's background refresh, in-process: collect from a local NEMWEB, roll up, announce
new versions, warm the hot set; one collector of several by the lock; NEMWEB down = degraded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from api_support import copy_store, free_port, running, server_settings, shared_store, wait_for
from nemdash.config import Settings
from nemdash.nemweb.mirror import NemwebMirror
from nemdash.query.connection import Database
from nemdash.refresh import Refresher, VersionBus, lock_holder
from nemdash.server import settings_environment
from nemdash.store.lake import Lake
from nemdash.store.rollups import BASE_VERSION_KEY
from nemweb_server import build_tree

CURRENT = "Reports/CURRENT/"
#: The live files of one interval (prices and SCADA at 2025-12-27 00:05): one month to roll up.
INTERVAL = "202512270005"


def _one_interval(path: str) -> bool:
    return path.startswith(CURRENT) and INTERVAL in path


@pytest.fixture
def mirror(tmp_path: Path, nemweb_root: Path) -> Iterator[NemwebMirror]:
    tree = build_tree(tmp_path / "nemweb", nemweb_root, include=_one_interval)
    with NemwebMirror(tree) as served:
        yield served


@pytest.fixture
def settings(tmp_path: Path, mirror: NemwebMirror) -> Settings:
    return server_settings(tmp_path / "data", nemweb_url=mirror.url, poll_delay=0)


class Recorder:
    """Collects what callbacks receive, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[object] = []

    def __call__(self, item: object) -> None:
        with self.lock:
            self.seen.append(item)


def test_the_bus_tells_every_subscriber_even_when_one_fails() -> None:
    bus = VersionBus()
    first, second = Recorder(), Recorder()

    def broken(_version: int) -> None:
        raise ValueError("a dashboard session that went away")

    bus.subscribe(first)
    bus.subscribe(broken)
    unsubscribe = bus.subscribe(second)
    bus.publish(7)
    unsubscribe()
    bus.publish(8)
    assert first.seen == [7, 8]
    assert second.seen == [7]
    assert len(bus) == 2


def test_a_collecting_refresher_ingests_rolls_up_warms_and_announces(settings: Settings) -> None:
    lake = Lake(settings.paths)
    db = Database(settings, lake)
    warmed = Recorder()

    def hot_set(database: Database) -> list[Callable[[], object]]:
        warmed(database)
        return []

    refresher = Refresher(settings, db, collect=True, hot_set=hot_set)
    announced = Recorder()
    refresher.on_new_version(announced)
    refresher.start()
    try:
        assert wait_for(lambda: refresher.state().last_cycle is not None, timeout=60)
        published = refresher.state().last_cycle.version  # type: ignore[union-attr]
        assert published is not None
        assert wait_for(lambda: published in announced.seen, timeout=10)
        # The cycle brought the rollups up to date (under its lock) before it was announced.
        assert lake.get_state(BASE_VERSION_KEY) is not None
        state = refresher.state()
        assert state.role == "collector"
        assert state.collector_alive
        assert state.collector_pid == os.getpid()
        assert lock_holder(settings) == os.getpid()
        cycle = state.last_cycle
        assert cycle is not None
        assert cycle.ingested == 2
        assert not cycle.nemweb_down
        assert cycle.rows["dispatch_price"] == 5
        assert cycle.rows["unit_scada"] == 493
        assert warmed.seen
        assert all(d is db for d in warmed.seen)
        assert refresher.warmup is not None
        half_hour = db.query(
            "SELECT count(*) AS n FROM price_30m WHERE bucket_end = TIMESTAMP '2025-12-27 00:30'"
        ).table
        assert half_hour.column("n")[0].as_py() == 5  # one bucket per region, rolled up
    finally:
        assert refresher.stop(timeout=30)
        db.close()
    assert settings.paths.collector_lock.read_text() == ""  # released, PID cleared
    assert lock_holder(settings) is None


def test_one_of_two_refreshers_collects_and_the_other_takes_over(settings: Settings) -> None:
    made = []
    for _ in range(2):
        db = Database(settings, Lake(settings.paths))
        made.append((Refresher(settings, db, collect=True, hot_set=None, lock_retry=0.1), db))
    (one, one_db), (two, two_db) = made
    one.start()
    assert wait_for(lambda: one.collecting, timeout=10)
    two.start()
    try:
        assert wait_for(lambda: two.state().role == "reader", timeout=10)
        assert not two.collecting
        assert two.state().collector_alive
        assert wait_for(lambda: one.state().last_cycle is not None, timeout=60)
        assert one.stop(timeout=30)
        assert wait_for(lambda: two.collecting, timeout=10)
        assert two.state().role == "collector"
    finally:
        two.stop(timeout=30)
        one_db.close()
        two_db.close()


def test_a_reader_notices_another_process_publish_within_the_poll(settings: Settings) -> None:
    lake = Lake(settings.paths)
    db = Database(settings, lake)
    reader = Refresher(settings, db, collect=False)
    announced = Recorder()
    reader.on_new_version(announced)
    reader.start()
    try:
        assert wait_for(lambda: announced.seen == [0], timeout=5)
        with lake.writer() as writer:
            writer.publish({}, [])
        assert wait_for(lambda: announced.seen == [0, 1], timeout=5)
        assert db.view_version == 1
        assert reader.state().role == "off"
    finally:
        reader.stop(timeout=10)
        db.close()


def test_with_nemweb_unreachable_the_server_serves_and_says_it_is_degraded(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path
) -> None:
    store = copy_store(
        shared_store(tmp_path_factory.getbasetemp(), shared_fixtures), tmp_path / "store"
    )
    nowhere = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    settings = server_settings(store, server_collect=True, nemweb_url=nowhere)
    with running(settings) as (_server, http):

        def cycle_failed() -> bool:
            body = http.get("/api/v1/status").json()
            cycle = body["collector"]["last_cycle"]
            return cycle is not None and cycle["nemweb_down"]

        assert wait_for(cycle_failed, timeout=60)
        status = http.get("/api/v1/status")
        assert status.status_code == 200
        body = status.json()
        assert body["status"] == "degraded"
        assert body["collector"]["role"] == "collector"
        assert body["collector"]["consecutive_failures"] == 1
        assert any(p.startswith("NEMWEB was unreachable") for p in body["problems"])
        assert all(feed["failing"] for feed in body["feeds"])
        assert all(feed["stale"] for feed in body["feeds"])
        data = http.get(
            "/api/v1/prices/series", params={"start": "2019-05-16", "end": "2019-05-16"}
        )
        assert data.status_code == 200
        assert len(data.json()["data"]) > 0


def test_status_of_a_reader_names_the_collecting_process(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path
) -> None:
    store = copy_store(
        shared_store(tmp_path_factory.getbasetemp(), shared_fixtures), tmp_path / "store"
    )
    settings = server_settings(store, server_collect=True)
    lock = FileLock(settings.paths.collector_lock, thread_local=False)
    with lock:  # the collecting "process" is this test
        settings.paths.collector_lock.write_text(f"{os.getpid()}\n")
        with running(settings) as (_server, http):

            def reader() -> bool:
                return bool(http.get("/api/v1/status").json()["collector"]["role"] == "reader")

            assert wait_for(reader, timeout=10)
            body = http.get("/api/v1/status").json()
    assert body["collector"]["pid"] == os.getpid()
    assert body["collector"]["alive"] is True
    assert body["collector"]["last_cycle"] is None
    assert "nothing is collecting" not in " ".join(body["problems"])


def test_stopping_cuts_a_running_warm_up_short(settings: Settings) -> None:
    db = Database(settings, Lake(settings.paths))
    started = threading.Event()

    def slow_job() -> None:
        started.set()
        time.sleep(0.05)

    refresher = Refresher(settings, db, collect=False, hot_set=lambda _db: [slow_job] * 400)
    refresher.start()
    try:
        assert started.wait(timeout=10)
    finally:
        assert refresher.stop(timeout=20)
        db.close()
    warmup = refresher.warmup
    assert warmup is not None
    assert warmup.superseded
    assert warmup.completed < 400


def test_settings_travel_to_the_workers_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Settings(
        data_dir=tmp_path / "data",
        api_tokens="token-a,token-b",
        api_tokens_file=None,
        server_collect=False,
        cors_origins="https://dash.example.org",
        stale_after=12.5,
    )
    for key, value in settings_environment(original).items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert Settings() == original
