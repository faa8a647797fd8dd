"""The live collector against a real local NEMWEB built from real AEMO files, faults included."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nemdash import tables
from nemdash.collector.loop import (
    Collector,
    CycleReport,
    FeedReport,
    collect,
    down_pause,
    late_feeds,
    next_poll,
    state_key,
    wake_time,
)
from nemdash.config import Settings
from nemdash.errors import StoreBusy
from nemdash.nemtime import NEM_TZ
from nemdash.nemweb import filenames
from nemdash.nemweb.client import NemwebClient
from nemdash.store.lake import Lake
from nemdash.store.rollups import missing_tables
from nemweb_server import FaultyNemweb, build_tree, reissue
from query_factory import as_before_fuel_5m

CURRENT = "Reports/CURRENT/"
DISPATCHIS = CURRENT + "DispatchIS_Reports/"
SCADA = CURRENT + "Dispatch_SCADA/"
DISPATCHIS_2025 = DISPATCHIS + "PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip"
DISPATCHIS_2019 = DISPATCHIS + "PUBLIC_DISPATCHIS_201904301035_0000000307325047.zip"
SCADA_2025 = SCADA + "PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
SCADA_2021 = SCADA + "PUBLIC_DISPATCHSCADA_202109021255_0000000348376188.zip"
NEWEST = (DISPATCHIS_2025, SCADA_2025)


def read_table(lake: Lake, table: str) -> pa.Table:
    """Every live row of a lake table, read from the Parquet files the manifest lists."""
    files = lake.live_files(table)
    if not files:
        return tables.get(table).arrow_schema.empty_table()
    return pa.concat_tables([pq.read_table(f.path) for f in files], promote_options="default")


def at(table: pa.Table, column: str, when: datetime) -> pa.Table:
    return table.filter(pc.equal(table[column], pa.scalar(when, pa.timestamp("us"))))


@pytest.fixture
def tree(tmp_path: Path, nemweb_root: Path) -> Path:
    """The CURRENT fixtures only (the archives are the backfill's business)."""
    return build_tree(tmp_path / "nemweb", nemweb_root, include=lambda p: p.startswith(CURRENT))


@pytest.fixture
def site(tree: Path) -> Iterator[FaultyNemweb]:
    with FaultyNemweb(tree) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, site: FaultyNemweb) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nemweb_url=site.url,
        http_timeout=0.5,
        http_retries=1,
        http_backoff=0.0,
        http_concurrency=2,
        poll_delay=0,
    )


@pytest.fixture
def make_collector(settings: Settings) -> Iterator[Callable[[], Collector]]:
    made: list[Collector] = []

    def make() -> Collector:
        collector = Collector(settings, Lake(settings.paths))
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()


def test_one_cycle_ingests_all_four_feeds(make_collector: Callable[[], Collector]) -> None:
    collector = make_collector()
    report = collector.run_cycle()
    assert {f: len(r.ingested) for f, r in report.feeds.items()} == {
        "DispatchIS_Reports": 2,
        "Dispatch_SCADA": 2,
        "TradingIS_Reports": 1,
        "ROOFTOP_PV_ACTUAL": 1,
    }
    assert report.version is not None
    assert report.quarantined == []
    lake = collector.lake
    price = at(read_table(lake, "dispatch_price"), "settlementdate", datetime(2025, 12, 27, 0, 5))
    rrp = dict(zip(price["regionid"].to_pylist(), price["rrp"].to_pylist(), strict=True))
    assert rrp["NSW1"] == pytest.approx(33.51273)
    assert rrp["VIC1"] == pytest.approx(-2.69976)
    scada = read_table(lake, "unit_scada")
    scada_2025 = at(scada, "settlementdate", datetime(2025, 12, 27, 0, 5))
    assert scada_2025.num_rows == 493
    assert pc.sum(scada_2025["scadavalue"]).as_py() == pytest.approx(19436.437)
    assert at(scada, "settlementdate", datetime(2021, 9, 2, 12, 55)).num_rows == 390
    trading = read_table(lake, "trading_price")
    assert dict(zip(trading["regionid"].to_pylist(), trading["rrp"].to_pylist(), strict=True))[
        "SA1"
    ] == pytest.approx(-63.45)
    rooftop = read_table(lake, "rooftop_pv")
    assert rooftop.num_rows == 10
    # Per-feed state: the watermark is the newest file time, lag and last success recorded.
    assert lake.get_state(state_key("Dispatch_SCADA", "watermark")) == ("2025-12-27T00:05:00+10:00")
    assert lake.get_state(state_key("TradingIS_Reports", "last_success")) is not None
    assert lake.get_state(state_key("DispatchIS_Reports", "lag_seconds")) is not None
    assert lake.get_state(state_key("DispatchIS_Reports", "last_error")) is None


def test_raw_zips_are_kept_as_served(
    make_collector: Callable[[], Collector], settings: Settings, tree: Path
) -> None:
    make_collector().run_cycle()
    for site_path in (SCADA_2025, DISPATCHIS_2019):
        parsed = filenames.parse(site_path)
        assert parsed is not None
        assert parsed.feed is not None
        kept = settings.paths.raw / parsed.feed / parsed.name
        assert kept.read_bytes() == (tree / site_path).read_bytes()


def test_second_cycle_is_a_no_op(
    make_collector: Callable[[], Collector], site: FaultyNemweb
) -> None:
    collector = make_collector()
    first = collector.run_cycle()
    downloads = sum(n for p, n in site.requests.items() if p.endswith(".zip"))
    second = collector.run_cycle()
    assert second.ingested == 0
    assert second.version is None
    assert all(not r.fetched for r in second.feeds.values())
    assert sum(n for p, n in site.requests.items() if p.endswith(".zip")) == downloads
    assert collector.lake.version() == first.version


def test_new_file_is_picked_up_by_the_next_cycle(
    tmp_path: Path, nemweb_root: Path, make_collector: Callable[[], Collector], tree: Path
) -> None:
    held = tmp_path / "held"
    held.mkdir()
    for site_path in NEWEST:
        shutil.move(tree / site_path, held / Path(site_path).name)
    collector = make_collector()
    first = collector.run_cycle()
    assert first.feeds["Dispatch_SCADA"].ingested == [Path(SCADA_2021).name]
    shutil.move(held / Path(SCADA_2025).name, tree / SCADA_2025)
    second = collector.run_cycle()
    assert second.feeds["Dispatch_SCADA"].fetched == [Path(SCADA_2025).name]
    assert second.feeds["Dispatch_SCADA"].ingested == [Path(SCADA_2025).name]
    assert second.ingested == 1
    scada = read_table(collector.lake, "unit_scada")
    assert at(scada, "settlementdate", datetime(2025, 12, 27, 0, 5)).num_rows == 493


def test_restart_catches_up_from_the_watermark_and_stops_on_request(
    tmp_path: Path, settings: Settings, tree: Path, site: FaultyNemweb
) -> None:
    held = tmp_path / "held"
    held.mkdir()
    for site_path in NEWEST:
        shutil.move(tree / site_path, held / Path(site_path).name)
    first = collect(settings, once=True)
    assert first is not None
    assert first.ingested == 4
    # While the collector is down, two new intervals appear.
    for site_path in NEWEST:
        shutil.move(held / Path(site_path).name, tree / site_path)
    stop = threading.Event()
    cycles: list[CycleReport] = []

    def on_cycle(report: CycleReport) -> None:
        cycles.append(report)
        stop.set()

    runner = threading.Thread(
        target=collect, kwargs={"settings": settings, "stop": stop, "on_cycle": on_cycle}
    )
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive()
    assert len(cycles) == 1
    caught_up = {f: r.ingested for f, r in cycles[0].feeds.items() if r.ingested}
    assert caught_up == {
        "DispatchIS_Reports": [Path(DISPATCHIS_2025).name],
        "Dispatch_SCADA": [Path(SCADA_2025).name],
    }
    # The 2019 and 2021 files were not fetched again.
    assert site.requests[DISPATCHIS_2019] == 1
    assert site.requests[SCADA_2021] == 1


class CountingStop(threading.Event):
    """A real stop event that records each pause asked of it and sets itself after ``cycles``."""

    def __init__(self, cycles: int) -> None:
        super().__init__()
        self.cycles = cycles
        self.pauses: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        if len(self.pauses) >= self.cycles:
            self.set()
        return self.is_set()


def test_run_forever_backs_off_while_nemweb_is_down(settings: Settings, tree: Path) -> None:
    with FaultyNemweb(tree) as gone:
        url = gone.url  # the port is closed again: connection refused
    down = settings.model_copy(update={"nemweb_url": url})
    lake = Lake(down.paths)
    fixed = datetime(2025, 1, 1, 14, 5, 10, tzinfo=NEM_TZ)
    reports: list[CycleReport] = []
    stop = CountingStop(cycles=3)
    with NemwebClient(url, retries=0, timeout=0.5) as client:
        collector = Collector(down, lake, client=client, clock=lambda: fixed)
        collector.run_forever(stop, on_cycle=reports.append)
    assert len(reports) == 3
    assert all(r.nemweb_down for r in reports)
    # With poll_delay 0: the next boundary, then one skipped, then three (5, 10, 20 minutes).
    assert stop.pauses == [290.0, 590.0, 1190.0]
    assert all(r.error for r in reports[0].feeds.values())
    assert lake.get_state(state_key("Dispatch_SCADA", "last_error")) is not None
    assert lake.get_state(state_key("Dispatch_SCADA", "last_success")) is None


def test_run_forever_polls_in_step_with_the_boundaries_when_up(settings: Settings) -> None:
    fixed = datetime(2025, 1, 1, 14, 5, 10, tzinfo=NEM_TZ)
    stop = CountingStop(cycles=2)
    paced = settings.model_copy(update={"poll_delay": 35.0})
    collector = Collector(paced, Lake(paced.paths), clock=lambda: fixed)
    try:
        collector.run_forever(stop)
    finally:
        collector.close()
    assert stop.pauses == [25.0, 25.0]


def nem_time(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2025, 12, 27, hour, minute, second, tzinfo=NEM_TZ)


def cycle_with(**watermarks: datetime | None) -> CycleReport:
    """A cycle report whose feeds ended with these watermarks."""
    report = CycleReport(started=nem_time(0, 0))
    for feed, mark in watermarks.items():
        report.feeds[feed] = FeedReport(feed, watermark=mark)
    return report


def test_a_late_interval_is_polled_for_every_few_seconds_within_the_window() -> None:
    paced = Settings(poll_delay=35, repoll_interval=10, repoll_window=150)
    in_time = cycle_with(DispatchIS_Reports=nem_time(0, 5), Dispatch_SCADA=nem_time(0, 5))
    late = cycle_with(DispatchIS_Reports=nem_time(0, 5), Dispatch_SCADA=nem_time(0, 0))
    assert late_feeds(late, nem_time(0, 5)) == ["Dispatch_SCADA"]
    # In time: the next regular poll, 35 s after the next boundary.
    assert wake_time(in_time, nem_time(0, 5, 40), paced) == nem_time(0, 10, 35)
    # Late: again in 10 s, while within 150 s of the boundary.
    assert wake_time(late, nem_time(0, 5, 40), paced) == nem_time(0, 5, 50)
    assert wake_time(late, nem_time(0, 7, 20), paced) == nem_time(0, 7, 30)
    assert wake_time(late, nem_time(0, 7, 31), paced) == nem_time(0, 10, 35)
    # Rooftop PV is half-hourly, and a feed NEMWEB would not list has its own backoff.
    assert wake_time(
        cycle_with(ROOFTOP_PV_ACTUAL=nem_time(0, 0)), nem_time(0, 5, 40), paced
    ) == nem_time(0, 10, 35)
    # A mirror on a fast clock: a fixed period.
    every = paced.model_copy(update={"poll_every": 2.0})
    assert wake_time(in_time, nem_time(0, 5, 40), every) == nem_time(0, 5, 42)
    down = cycle_with(Dispatch_SCADA=None)
    down.feeds["Dispatch_SCADA"].unavailable = True
    assert wake_time(down, nem_time(0, 5, 40), paced) == nem_time(0, 10, 35)


def test_run_forever_fetches_a_late_file_at_the_next_repoll(
    settings: Settings, tree: Path, nemweb_root: Path
) -> None:
    (tree / SCADA_2025).unlink()  # AEMO is late with the 00:05 SCADA file
    paced = settings.model_copy(update={"poll_delay": 35.0, "repoll_interval": 10.0})
    lake = Lake(paced.paths)

    class LateFile(CountingStop):
        def wait(self, timeout: float | None = None) -> bool:
            shutil.copyfile(nemweb_root / SCADA_2025, tree / SCADA_2025)  # ... and now it is in
            return super().wait(timeout)

    stop = LateFile(cycles=2)
    reports: list[CycleReport] = []
    collector = Collector(
        paced,
        lake,
        feeds=("DispatchIS_Reports", "Dispatch_SCADA"),
        clock=lambda: nem_time(0, 5, 40),
    )
    try:
        collector.run_forever(stop, on_cycle=reports.append)
    finally:
        collector.close()
    assert stop.pauses == [10.0, 295.0]
    assert reports[1].feeds["Dispatch_SCADA"].ingested == [Path(SCADA_2025).name]


def test_a_cycle_with_nothing_new_still_builds_a_rollup_table_the_store_lacks(
    make_collector: Callable[[], Collector], settings: Settings
) -> None:
    collector = make_collector()
    collector.run_cycle()
    lake = Lake(settings.paths)
    assert lake.live_files("fuel_5m")
    # As if written by a nemdash from before fuel_5m.
    with lake.writer() as writer:
        as_before_fuel_5m(lake, writer)
    assert missing_tables(lake) == ["fuel_5m"]
    again = collector.run_cycle()
    assert again.ingested == 0
    assert lake.live_files("fuel_5m")
    assert missing_tables(lake) == []


def test_stop_during_a_cycle_ingests_what_was_fetched_and_the_rest_follows(
    make_collector: Callable[[], Collector],
) -> None:
    collector = make_collector()
    stop = threading.Event()
    stop.set()
    interrupted = collector.run_cycle(stop)
    assert interrupted.ingested == 1
    rest = collector.run_cycle()
    assert rest.ingested == 5


def test_raw_zips_are_not_kept_when_keep_raw_is_off(settings: Settings) -> None:
    lean = settings.model_copy(update={"keep_raw": False})
    report = collect(lean, once=True)
    assert report is not None
    assert report.ingested == 6
    assert not lean.paths.raw.exists()


def test_poll_times_follow_the_five_minute_boundaries() -> None:
    assert next_poll(datetime(2025, 1, 1, 14, 5, 10, tzinfo=NEM_TZ), 35) == datetime(
        2025, 1, 1, 14, 5, 35, tzinfo=NEM_TZ
    )
    assert next_poll(datetime(2025, 1, 1, 14, 5, 35, tzinfo=NEM_TZ), 35) == datetime(
        2025, 1, 1, 14, 10, 35, tzinfo=NEM_TZ
    )
    assert next_poll(datetime(2025, 1, 1, 23, 59, 50, tzinfo=NEM_TZ), 35) == datetime(
        2025, 1, 2, 0, 0, 35, tzinfo=NEM_TZ
    )
    assert [down_pause(n) for n in range(1, 6)] == [
        timedelta(minutes=m) for m in (5, 10, 20, 30, 30)
    ]


def test_second_collector_is_refused_while_one_holds_the_lock(settings: Settings) -> None:
    lake = Lake(settings.paths)
    with lake.writer():
        other = Collector(settings, Lake(settings.paths))
        try:
            with pytest.raises(StoreBusy):
                other.run_cycle()
        finally:
            other.close()


# --- faults: each file fails its own way, the cycle goes on, the reason is recorded ------------


def copy_as(tree: Path, source: str, minutes_later: int, file_id: str) -> str:
    """Publish ``source`` again as a later interval (new name; same rows inside)."""
    parsed = filenames.parse(source)
    assert parsed is not None
    assert parsed.feed is not None
    assert parsed.timestamp is not None
    when = parsed.timestamp + timedelta(minutes=minutes_later)
    new_path = parsed.directory + filenames.current_name(parsed.feed, when, file_id)
    shutil.copyfile(tree / source, tree / new_path)
    return new_path


def test_faults_are_handled_and_the_cycle_continues(
    make_collector: Callable[[], Collector], site: FaultyNemweb, tree: Path, settings: Settings
) -> None:
    rolled_off = copy_as(tree, SCADA_2025, 5, "1")
    flaky = copy_as(tree, SCADA_2025, 10, "2")
    slow = copy_as(tree, SCADA_2025, 15, "3")
    forbidden = copy_as(tree, SCADA_2025, 20, "4")
    truncated = copy_as(tree, SCADA_2025, 25, "5")
    corrupt = copy_as(tree, DISPATCHIS_2025, 5, "6")
    footer = copy_as(tree, DISPATCHIS_2025, 10, "7")
    twice = reissue(tree, DISPATCHIS_2025, "0000000495867599")
    site.not_found(rolled_off)
    site.fail(flaky, times=1)  # one 500, then OK: the client's retry absorbs it
    site.delay(slow, 2.0)  # longer than the 0.5 s timeout, twice (one retry)
    site.forbidden(forbidden)
    site.truncate(truncated)
    site.corrupt_csv(corrupt)
    site.footer_mismatch(footer)

    collector = make_collector()
    report = collector.run_cycle()
    scada, dispatch = report.feeds["Dispatch_SCADA"], report.feeds["DispatchIS_Reports"]
    name = lambda p: Path(p).name  # noqa: E731
    assert scada.rolled_off == [name(rolled_off)]
    assert name(flaky) in scada.ingested
    failed = dict(scada.failed)
    assert set(failed) == {name(slow), name(forbidden)}
    assert "timed out" in failed[name(slow)]
    assert "403" in failed[name(forbidden)]
    quarantined = dict(report.quarantined)
    assert set(quarantined) == {name(truncated), name(corrupt)}
    assert name(footer) in dispatch.ingested
    assert any(name(footer) in m for m in report.footer_mismatches)
    assert {name(twice), name(DISPATCHIS_2025)} <= set(dispatch.ingested)
    # The rest still made it in: the real files of every feed.
    assert report.feeds["TradingIS_Reports"].ingested
    assert report.feeds["ROOFTOP_PV_ACTUAL"].ingested
    # Quarantined files are kept beside their reason; problems are recorded in the state.
    rows = {q.name: q for q in collector.lake.quarantined()}
    assert set(rows) == {name(truncated), name(corrupt)}
    last_error = collector.lake.get_state(state_key("Dispatch_SCADA", "last_error"))
    assert last_error is not None
    assert name(forbidden) in last_error
    assert name(truncated) in last_error
    # A re-issued interval and copies of one interval upsert: no duplicate rows.
    price = read_table(collector.lake, "dispatch_price")
    assert at(price, "settlementdate", datetime(2025, 12, 27, 0, 5)).num_rows == 5
    unit = at(
        read_table(collector.lake, "unit_scada"), "settlementdate", datetime(2025, 12, 27, 0, 5)
    )
    assert unit.num_rows == 493

    # Next cycle, NEMWEB behaves: only the two failed files are fetched; the 404 and the
    # quarantined files are not asked for again.
    site.clear()
    before = dict(site.requests)
    again = collector.run_cycle()
    assert sorted(again.feeds["Dispatch_SCADA"].fetched) == sorted([name(slow), name(forbidden)])
    assert sorted(again.feeds["Dispatch_SCADA"].ingested) == sorted([name(slow), name(forbidden)])
    assert again.feeds["DispatchIS_Reports"].fetched == []
    for site_path in (rolled_off, truncated, corrupt):
        assert site.requests[site_path] == before[site_path]
