"""The demo store: a synthetic NEM generated once and loaded through the real pipeline.

One small store is built per module (60 units, three days ending 2025-06-01 12:00: an MMSDM
month, one ARCHIVE market day and a morning of CURRENT files) with the real data directory set
to a folder holding one file, which must come out untouched. The rows are checked against what
the generator says it wrote (``TreeSummary``) and against the span: every interval once.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from nemdash.config import Settings
from nemdash.demo.build import (
    RECORD,
    SYNTHETIC_KEY,
    SYNTHETIC_PARAMS_KEY,
    DemoStore,
    build_demo_store,
    default_demo_end,
    demo_data_dir,
    demo_params,
    offline_fallback,
    open_demo_store,
    probe_nemweb,
    real_data_ready,
    synthetic_info,
)
from nemdash.errors import ConfigError
from nemdash.nemtime import NEM_TZ
from nemdash.nemweb.mirror import NemwebMirror
from nemdash.store.ingest import ingest_paths
from nemdash.store.lake import Lake
from nemdash.store.rollups import missing_tables
from nemdash.tables import TABLES
from query_factory import as_before_fuel_5m

END = datetime(2025, 6, 1, 12, 0)
DAYS = 3
UNITS = 60
SEED = 5
INTERVALS = DAYS * 288
FIXTURE_SCADA = (
    "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time (ns)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def unreachable() -> Iterator[str]:
    """A local NEMWEB URL that refuses connections at once: its port is bound, not listening
    (and so cannot be taken by another server while the tests run)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@dataclass
class Built:
    settings: Settings
    store: DemoStore
    stages: list[tuple[str, int, int]]
    real_before: dict[str, tuple[int, int]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, unreachable: str) -> Built:
    base = tmp_path_factory.mktemp("demo-build")
    real = base / "real"
    real.mkdir()
    (real / "keep.txt").write_text("the real data directory: the demo must not touch it\n")
    settings = Settings(
        data_dir=real, demo_data_dir=base / "demo", nemweb_url=unreachable, http_timeout=5
    )
    before = snapshot(real)
    stages: list[tuple[str, int, int]] = []
    store = build_demo_store(
        settings,
        days=DAYS,
        units=UNITS,
        seed=SEED,
        end=END,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    return Built(settings, store, stages, before)


def query(lake: Lake, table: str, sql: str) -> tuple[object, ...]:
    """One row of ``sql`` over the live files of ``table`` (named ``t`` in the query)."""
    files = [str(f.path) for f in lake.live_files(table)]
    with duckdb.connect() as con:
        row = con.execute(f"SELECT {sql} FROM read_parquet(?) AS t", [files]).fetchone()
    assert row is not None
    return tuple(row)


def test_the_store_holds_every_generated_row_exactly_once(built: Built) -> None:
    store = built.store
    lake = Lake(store.settings.paths)
    assert store.tree is not None
    assert not store.reused
    # Every row the generator wrote was read: the sources' rows add up to the TreeSummary's.
    from_sources: dict[str, int] = {}
    for source in lake.sources():
        for table, n in source.rows.items():
            from_sources[table] = from_sources.get(table, 0) + n
    assert {t: from_sources.get(t, 0) for t in TABLES} == {
        t: store.tree.rows.get(t, 0) for t in TABLES
    }
    # ...and the store keeps each key once (the MMSDM month and the ARCHIVE day overlap).
    for name, spec in TABLES.items():
        key = ", ".join(spec.primary_key)
        total, distinct = query(lake, name, f"count(*), count(DISTINCT ({key}))")
        assert total == distinct == store.rows[name], name
    # Every interval of the span, every unit, every region.
    first = END - timedelta(days=DAYS) + timedelta(minutes=5)
    assert query(lake, "unit_scada", "count(*), count(DISTINCT duid)") == (
        INTERVALS * UNITS,
        UNITS,
    )
    assert query(
        lake,
        "dispatch_price",
        "count(DISTINCT settlementdate), min(settlementdate), max(settlementdate), "
        "count(*) FILTER (WHERE intervention = 0)",
    ) == (INTERVALS, first, END, INTERVALS * 5)
    assert query(lake, "trading_price", "count(*), max(settlementdate)") == (INTERVALS * 5, END)
    half_hours, low, high, rows = query(
        lake,
        "rooftop_pv",
        "count(DISTINCT interval_datetime), min(interval_datetime), max(interval_datetime), "
        "count(*)",
    )
    assert isinstance(low, datetime)
    assert isinstance(high, datetime)
    assert low <= END - timedelta(days=DAYS) + timedelta(minutes=30)
    assert half_hours == (high - low) / timedelta(minutes=30) + 1  # no gap
    assert rows == half_hours * 10  # five regions and five sub-regions


def test_every_path_of_the_pipeline_was_used(built: Built) -> None:
    lake = Lake(built.store.settings.paths)
    names = [s.name for s in lake.sources()]
    assert any(
        n.startswith("PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202505") for n in names
    )
    assert "PUBLIC_DISPATCHIS_20250531.zip" in names  # the daily ARCHIVE zip of zips
    assert any(n.startswith("PUBLIC_DISPATCHSCADA_202506011200_") for n in names)  # CURRENT
    assert lake.states("backfill.")
    watermark = lake.get_state("collector.Dispatch_SCADA.watermark")
    assert watermark is not None
    assert datetime.fromisoformat(watermark) == END.replace(tzinfo=NEM_TZ)
    assert lake.quarantined() == []
    registry = query(lake, "duid_registry", "count(*), count(*) FILTER (WHERE inferred)")
    assert registry == (UNITS, 0)
    # The rollups cover the span up to its last half hour.
    assert query(lake, "price_30m", "max(bucket_end)") == (END,)


def test_the_store_is_labelled_synthetic(built: Built) -> None:
    store = built.store
    lake = Lake(store.settings.paths)
    assert lake.get_state(SYNTHETIC_KEY) == "true"
    params = json.loads(lake.get_state(SYNTHETIC_PARAMS_KEY) or "{}")
    assert params["units"] == UNITS
    assert params["seed"] == SEED
    assert params["days"] == DAYS
    assert params["end"] == "2025-06-01T12:00:00+10:00"
    info = synthetic_info(lake)
    assert info is not None
    assert info["synthetic"] is True
    assert "not AEMO data" in info["note"]
    record = json.loads((store.root / RECORD).read_text())
    assert record["stage"] == "ready"
    assert record["synthetic"] is True
    assert record["params"] == store.params.to_json()
    # The store is never mistaken for real data.
    assert not real_data_ready(store.settings)


def test_the_real_data_dir_is_untouched(built: Built) -> None:
    real = built.settings.data_dir
    assert snapshot(real) == built.real_before
    assert built.store.settings.data_dir == demo_data_dir(built.settings)
    assert built.store.settings.data_dir != real
    assert Lake(built.settings.paths).version() == 0
    assert synthetic_info(Lake(built.settings.paths)) is None


def test_progress_is_reported_for_every_stage(built: Built) -> None:
    stages = [stage for stage, _, _ in built.stages]
    for stage in ("generate mmsdm", "generate archive", "generate current", "registry"):
        assert stage in stages
    for stage in ("load archives", "load current", "verify"):
        assert stage in stages
    finals = {stage: (done, total) for stage, done, total in built.stages}
    assert finals["load archives"][0] == finals["load archives"][1] > 0
    assert finals["verify"] == (1, 1)


def test_a_second_build_reuses_the_store(built: Built) -> None:
    first = built.store
    files = sorted(first.tree_root.rglob("*.zip"))
    identity = {p: (p.stat().st_ino, p.stat().st_ctime_ns) for p in files}
    stages: list[str] = []
    again = build_demo_store(
        built.settings,
        days=DAYS,
        units=UNITS,
        seed=SEED,
        end=END,
        progress=lambda stage, _d, _t: stages.append(stage),
    )
    assert again.reused
    assert again.tree is None
    assert again.version == first.version
    assert dict(again.rows) == dict(first.rows)
    assert again.params == first.params
    assert stages == []  # nothing generated, nothing loaded
    assert {p: (p.stat().st_ino, p.stat().st_ctime_ns) for p in files} == identity
    assert open_demo_store(built.settings) is not None


def test_a_store_built_by_an_older_nemdash_gets_its_new_rollups_when_reused(
    built: Built, tmp_path: Path
) -> None:
    root = tmp_path / "demo"
    shutil.copytree(built.store.root, root, ignore=shutil.ignore_patterns("*.lock"))
    settings = built.settings.model_copy(update={"demo_data_dir": root})
    lake = Lake(open_demo_store(settings).settings.paths)  # type: ignore[union-attr]
    with lake.writer() as writer:  # as if built before fuel_5m
        as_before_fuel_5m(lake, writer)
    assert missing_tables(lake) == ["fuel_5m"]
    again = build_demo_store(settings, days=DAYS, units=UNITS, seed=SEED, end=END)
    assert again.reused
    assert missing_tables(lake) == []
    assert lake.live_files("fuel_5m")


def test_offline_first_run_serves_the_demo_when_nemweb_is_unreachable(built: Built) -> None:
    # The module's settings: an empty real store and a NEMWEB URL on a closed port.
    assert not real_data_ready(built.settings)
    assert probe_nemweb(built.settings, timeout=2) is not None
    fallback = offline_fallback(built.settings)
    assert fallback is not None
    assert fallback.data_dir == built.store.root  # the store already built (whatever its size)
    assert fallback.nemweb_url == built.settings.nemweb_url
    assert synthetic_info(Lake(fallback.paths)) is not None
    assert snapshot(built.settings.data_dir) == built.real_before


def test_offline_first_run_keeps_to_real_data_when_nemweb_answers(built: Built) -> None:
    with NemwebMirror(built.store.tree_root) as nemweb:
        reachable = built.settings.model_copy(update={"nemweb_url": nemweb.url})
        assert probe_nemweb(reachable) is None
        assert offline_fallback(reachable) is None


def test_offline_first_run_keeps_to_a_store_with_real_data(
    built: Built, tmp_path: Path, nemweb_root: Path
) -> None:
    real = built.settings.model_copy(update={"data_dir": tmp_path / "real"})
    lake = Lake(real.paths)
    assert not real_data_ready(real)
    with lake.writer() as writer:
        ingest_paths(writer, [nemweb_root / FIXTURE_SCADA])
    assert real_data_ready(real)
    assert offline_fallback(real) is None  # NEMWEB is unreachable, but real data is there


def test_demo_dir_that_overlaps_the_real_data_dir_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "data"
    for demo in (real, real / "demo", tmp_path):
        settings = Settings(data_dir=real, demo_data_dir=demo)
        with pytest.raises(ConfigError, match="overlaps the real data directory"):
            demo_data_dir(settings)
        with pytest.raises(ConfigError):
            build_demo_store(settings, days=1, units=UNITS)
    assert not real.exists()


def test_a_folder_that_is_not_a_demo_store_is_never_cleared(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "notes.txt").write_text("mine")
    settings = Settings(data_dir=tmp_path / "real", demo_data_dir=demo)
    with pytest.raises(ConfigError, match="holds no nemdash demo store"):
        build_demo_store(settings, days=1, units=UNITS, rebuild=True)
    assert (demo / "notes.txt").read_text() == "mine"


def test_the_span_ends_at_noon_on_the_first_of_the_month() -> None:
    assert default_demo_end(datetime(2026, 11, 23, 7, 0, tzinfo=NEM_TZ)) == datetime(
        2026, 11, 1, 12, 0
    )
    assert default_demo_end(datetime(2026, 3, 1, 9, 0)) == datetime(2026, 2, 1, 12, 0)
    assert default_demo_end(datetime(2026, 1, 1, 11, 0)) == datetime(2025, 12, 1, 12, 0)
    month = demo_params(days=30, end=datetime(2026, 11, 1, 12, 3))
    assert (month.start, month.end) == (datetime(2026, 10, 2, 12, 0), datetime(2026, 11, 1, 12, 0))
    years = demo_params(years=5, units=500, end=datetime(2026, 1, 1, 12, 0))
    assert (years.start, years.days, years.years) == (datetime(2021, 1, 1, 12, 0), None, 5)
    with pytest.raises(ConfigError):
        demo_params(days=0)
    with pytest.raises(ConfigError):
        demo_params(years=0)


@pytest.mark.slow
def test_offline_first_run_builds_a_store_then_other_parameters_rebuild_it(
    tmp_path: Path, unreachable: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "real", demo_data_dir=tmp_path / "demo", nemweb_url=unreachable
    )
    assert open_demo_store(settings) is None
    fallback = offline_fallback(settings, days=1, units=40)
    assert fallback is not None
    first = open_demo_store(settings)
    assert first is not None
    assert first.params.units == 40
    assert first.params.days == 1
    marker = next(first.tree_root.rglob("*.zip"))
    identity = (marker.stat().st_ino, marker.stat().st_ctime_ns)  # inode numbers are reused

    other = build_demo_store(settings, days=1, units=40, seed=first.params.seed + 1)
    assert not other.reused
    assert other.tree is not None
    assert other.params.seed == first.params.seed + 1
    assert not marker.exists() or (marker.stat().st_ino, marker.stat().st_ctime_ns) != identity
    assert synthetic_info(Lake(other.settings.paths)) is not None
    again = build_demo_store(settings, days=1, units=40, seed=other.params.seed, rebuild=True)
    assert not again.reused
    assert again.tree is not None
    assert not (tmp_path / "real").exists()


class Interrupted(Exception):
    """Stands in for a Ctrl-C in the middle of a build."""


@pytest.mark.slow
def test_an_interrupted_build_loads_the_same_tree_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "real", demo_data_dir=tmp_path / "demo")

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "load current":
            raise Interrupted

    with pytest.raises(Interrupted):
        build_demo_store(settings, days=1, units=40, end=END, progress=interrupt)
    assert json.loads((tmp_path / "demo" / RECORD).read_text())["stage"] == "tree"
    assert open_demo_store(settings) is None  # not ready: never served half built
    marker = next((tmp_path / "demo" / "nemweb").rglob("*.zip"))
    identity = (marker.stat().st_ino, marker.stat().st_ctime_ns)

    stages: list[str] = []
    store = build_demo_store(
        settings, days=1, units=40, end=END, progress=lambda s, _d, _t: stages.append(s)
    )
    assert not store.reused
    assert store.tree is None  # the tree was not generated again...
    assert (marker.stat().st_ino, marker.stat().st_ctime_ns) == identity
    assert not any(s.startswith("generate") for s in stages)
    # ...and what the first run had loaded is there once, with the rest (the build verifies it).
    assert store.rows["unit_scada"] == 288 * 40
