"""Query caches: the memory LRU, the shared disk cache, keys, store tags, immutability, warm-up.

Everything runs on real components: a real Parquet lake published in ``tmp_path``, a real DuckDB
``Database`` over it, real Arrow IPC files, and real child processes sharing one disk cache. Time
is injected (a fake clock) wherever TTLs and version polling are checked, so nothing sleeps.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nemdash import nemtime
from nemdash.config import DataPaths, Settings
from nemdash.query.cache import (
    MISSING,
    CacheKey,
    DiskCache,
    MemoryCache,
    QueryCache,
    cache_for,
    cache_stats,
    cached,
    check_immutable,
    clear_cache,
    make_key,
    size_of,
    use_cache,
    warm,
)
from nemdash.query.connection import Database
from nemdash.store.lake import Lake, SourceRecord
from nemdash.tables import DISPATCH_PRICE, UNIT_SCADA

T0 = datetime(2024, 3, 1, 0, 5)
START = datetime(2024, 3, 1)  # (START, ...] holds the interval ending at T0
FIVE = timedelta(minutes=5)
CALLS: Counter[str] = Counter()
MEAN_RRP_SQL = (
    "SELECT regionid, avg(rrp) AS rrp, count(*) AS n FROM dispatch_price "
    "WHERE regionid IN (SELECT unnest(?)) AND settlementdate > ? AND settlementdate <= ? "
    "GROUP BY regionid ORDER BY regionid"
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- data and query functions ---------------------------------------------------------------------


def prices(times: Sequence[datetime], rrp: dict[str, float]) -> pa.Table:
    """DISPATCH,PRICE rows (intervention 0) for every region in ``rrp`` at every time."""
    rows: dict[str, list[Any]] = {name: [] for name in DISPATCH_PRICE.column_names}
    for i, t in enumerate(times):
        for region, value in rrp.items():
            for name in rows:
                rows[name].append(None)
            rows["settlementdate"][-1] = t
            rows["regionid"][-1] = region
            rows["dispatchinterval"][-1] = i
            rows["intervention"][-1] = 0
            rows["rrp"][-1] = value
    return pa.Table.from_pydict(rows, schema=DISPATCH_PRICE.arrow_schema)


def scada(times: Sequence[datetime], duid: str, value: float) -> pa.Table:
    """UNIT_SCADA rows of one DUID."""
    return pa.Table.from_pydict(
        {
            "settlementdate": list(times),
            "duid": [duid] * len(times),
            "scadavalue": [value] * len(times),
            "lastchanged": [None] * len(times),
        },
        schema=UNIT_SCADA.arrow_schema,
    )


def publish(lake: Lake, data: dict[str, list[pa.Table]], name: str) -> int:
    """Publish ``data`` as one store version; returns it."""
    rows = {table: sum(t.num_rows for t in parts) for table, parts in data.items()}
    source = SourceRecord(name, f"sha-{name}", 100, rows, True, origin=f"/in/{name}")
    with lake.writer() as writer:
        return writer.publish(data, [source]).version


def run(db: Database, sql: str, params: list[Any] | None = None) -> pa.Table:
    """Run a query on this thread's cursor of ``db`` (views at the latest store version)."""
    # Database.query goes through a DB-API result, on which DuckDB 2.0 warns about an extra
    # copy (an error under filterwarnings=error); a relation gives Arrow directly.
    result: pa.Table = db.cursor().sql(sql, params=params).to_arrow_table()
    return result


def naive(value: datetime) -> datetime:
    """The lake's naive NEM wall-clock value of a naive (NEM) or aware datetime."""
    return nemtime.to_naive(nemtime.ensure_aware(value))


@cached(tables=("dispatch_price",), name="tests.mean_rrp")
def mean_rrp(db: Database, regions: Sequence[str], start: datetime, end: datetime) -> pa.Table:
    """Mean RRP per region over (start, end] (a real query over the lake)."""
    CALLS["mean_rrp"] += 1
    return run(
        db,
        MEAN_RRP_SQL,
        [list(regions), naive(start), naive(end)],
    )


@cached(name="tests.row_counts")
def row_counts(db: Database) -> pa.Table:
    """Rows per table, keyed on the whole store version."""
    CALLS["row_counts"] += 1
    return run(
        db,
        "SELECT (SELECT count(*) FROM dispatch_price) AS prices, "
        "(SELECT count(*) FROM unit_scada) AS scada",
    )


@dataclass(frozen=True)
class PriceSummary:
    """A frozen result that is not a table (memory only)."""

    region: str
    mean: float
    counts: tuple[int, ...] = ()


@cached(tables=["dispatch_price"], name="tests.summary")
def summary(db: Database, region: str) -> PriceSummary:
    CALLS["summary"] += 1
    value = run(db, "SELECT avg(rrp) FROM dispatch_price WHERE regionid = ?", [region])
    return PriceSummary(region, value.column(0)[0].as_py(), (1, 2))


@cached(tables=("dispatch_price",), name="tests.top_prices")
def top_prices(db: Database, region: str, limit: int = 3, *, order: str = "desc") -> pa.Table:
    """The highest (or lowest) prices of a region: a function with defaults and a keyword."""
    CALLS["top_prices"] += 1
    direction = "DESC" if order == "desc" else "ASC"
    sql = f"SELECT rrp FROM dispatch_price WHERE regionid = ? ORDER BY rrp {direction} LIMIT ?"
    return run(db, sql, [region, limit])


@dataclass
class Loose:
    values: list[int] = field(default_factory=list)


@cached(name="tests.bad_frame")
def bad_frame(db: Database) -> pd.DataFrame:
    return pd.DataFrame({"a": [1]})


@cached(name="tests.bad_list")
def bad_list(db: Database) -> list[int]:
    return [1]


@cached(name="tests.bad_dataclass")
def bad_dataclass(db: Database) -> Loose:
    return Loose()


def settings_for(root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": root, "cache_version_poll": 0.0} | overrides
    return Settings(**values)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(DataPaths(tmp_path / "data"))
    publish(lake, {"dispatch_price": [prices([T0, T0 + FIVE], {"NSW1": 50.0, "SA1": 100.0})]}, "p1")
    return lake


@pytest.fixture
def db(lake: Lake) -> Iterator[Database]:
    database = Database(settings_for(lake.paths.root), lake)
    yield database
    database.close()


def table(rows: int, width: int = 1) -> pa.Table:
    """A table of int64 columns (8 bytes a value)."""
    return pa.table({f"c{i}": pa.array(range(rows), pa.int64()) for i in range(width)})


def key(name: str, tag: str = "v1") -> CacheKey:
    return make_key("tests.key", {"name": name}, tag)


# -- memory layer ---------------------------------------------------------------------------------


def test_memory_evicts_the_least_recently_used_entry() -> None:
    memory = MemoryCache(max_bytes=1000, ttl=60)
    for name in "abc":
        assert memory.put(key(name), name, 250)
    assert memory.get(key("a")) == "a"  # a is now the most recently used
    memory.put(key("d"), "d", 250)
    memory.put(key("e"), "e", 250)
    assert memory.get(key("b")) is MISSING
    assert [memory.get(key(n)) for n in "acde"] == ["a", "c", "d", "e"]
    stats = memory.stats()
    assert (stats.entries, stats.bytes, stats.evictions) == (4, 1000, 1)


def test_memory_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    memory = MemoryCache(max_bytes=1000, ttl=30, clock=clock)
    memory.put(key("a"), "a", 10)
    clock.advance(29.9)
    assert memory.get(key("a")) == "a"  # a hit does not extend the TTL
    clock.advance(0.1)
    assert memory.get(key("a")) is MISSING
    memory.put(key("b"), "b", 10)
    clock.advance(30)
    assert memory.purge_expired() == 1
    stats = memory.stats()
    assert (stats.hits, stats.misses, stats.expirations, stats.entries) == (1, 1, 2, 0)


def test_memory_is_bounded_by_the_bytes_of_arrow_buffers() -> None:
    memory = MemoryCache(max_bytes=40_000, ttl=60)
    small = table(1000)  # 8,000 bytes
    assert size_of(small) == 8000
    assert size_of(small.slice(0, 10)) == 8000  # a slice keeps its parent's buffers alive
    for i in range(6):
        memory.put(key(str(i)), small, size_of(small))
    stats = memory.stats()
    assert stats.bytes <= 40_000
    assert stats.entries == 5
    assert not memory.put(key("big"), table(2000), size_of(table(2000)))  # over a quarter
    assert memory.get(key("big")) is MISSING


def test_a_zero_byte_memory_cache_keeps_nothing() -> None:
    memory = MemoryCache(max_bytes=0, ttl=60)
    assert not memory.put(key("a"), "a", 1)
    assert memory.get(key("a")) is MISSING


# -- disk layer -----------------------------------------------------------------------------------


def test_disk_round_trip_keeps_types_nulls_and_metadata(tmp_path: Path) -> None:
    original = pa.table(
        {
            "settlementdate": pa.array([T0, None, T0 + FIVE], pa.timestamp("us")),
            "regionid": ["NSW1", None, "SA1"],
            "rrp": [33.51273, None, -2.69976],
            "n": pa.array([1, 2, None], pa.int64()),
        }
    ).replace_schema_metadata({"resolution": "5m"})
    disk = DiskCache(tmp_path / "cache", max_bytes=10**6)
    assert disk.put(key("a"), original)
    again = DiskCache(tmp_path / "cache", max_bytes=10**6).get(key("a"))
    assert again is not None
    assert again.equals(original, check_metadata=True)
    assert disk.get(key("a", tag="v2")) is None
    files = list((tmp_path / "cache").iterdir())
    assert [f.name.startswith("tests.key.") and f.suffix == ".arrow" for f in files] == [True]


def noise(rows: int) -> pa.Table:
    """Incompressible float64 values (8 bytes each), the same every run."""
    return pa.table({"v": pa.array(np.random.default_rng(rows).random(rows))})


def test_disk_is_bounded_and_evicts_the_least_recently_used_file(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    probe = DiskCache(tmp_path / "probe", max_bytes=10**6)
    probe.put(key("x"), noise(2000))
    file_size = probe.path_for(key("x")).stat().st_size  # about 16 kB
    disk = DiskCache(directory, max_bytes=5 * file_size)
    for i in range(4):
        assert disk.put(key(str(i)), noise(2000))
    # Last uses one second apart, 0 oldest; then a hit on 0 makes 1 the least recently used.
    base = time.time() - 100
    for i in range(4):
        os.utime(disk.path_for(key(str(i))), (base + i, base + i))
    assert disk.get(key("0")) is not None
    assert disk.put(key("4"), noise(2000))
    assert len(list(directory.glob("*.arrow"))) == 5  # exactly at the bound: nothing evicted
    assert disk.put(key("5"), noise(2000))
    # Over the bound: the least recently used go until 90 % of it is left (4 files of 5).
    remaining = sorted(p.name.split(".")[2][:8] for p in directory.glob("*.arrow"))
    assert len(remaining) == 4
    assert sum(p.stat().st_size for p in directory.glob("*.arrow")) <= 5 * file_size
    assert disk.get(key("1")) is None
    assert disk.get(key("2")) is None
    assert all(disk.get(key(k)) is not None for k in "0345")
    assert disk.stats().evictions == 2


def test_disk_treats_vanished_and_corrupt_files_as_misses(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path / "cache", max_bytes=10**6)
    disk.put(key("a"), table(10))
    disk.path_for(key("a")).unlink()
    assert disk.get(key("a")) is None
    disk.path_for(key("b")).write_bytes(b"not arrow at all")
    assert disk.get(key("b")) is None
    assert not disk.path_for(key("b")).exists()  # deleted so that it is rebuilt
    stale = tmp_path / "cache" / ".x.arrow.1.abcd.tmp"
    stale.write_bytes(b"half a file")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    disk.evict()
    assert not stale.exists()
    stats = disk.stats()
    assert (stats.misses, stats.errors, stats.entries) == (2, 1, 0)


def test_a_table_read_from_disk_survives_its_file_being_evicted(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path / "cache", max_bytes=10**6)
    disk.put(key("a"), table(100))
    got = disk.get(key("a"))
    disk.clear()
    assert got is not None
    assert got.column(0).to_pylist() == list(range(100))


# -- keys -----------------------------------------------------------------------------------------


class Region(Enum):
    NSW = "NSW1"


def test_same_parameters_in_another_order_or_type_give_the_same_key(db: Database) -> None:
    start_nem = datetime(2024, 3, 1, 10, 0)
    start_utc = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)  # the same instant
    end = datetime(2024, 3, 2, tzinfo=nemtime.NEM_TZ)
    k1 = mean_rrp.key(db, ["NSW1", "SA1"], start_nem, end)
    k2 = mean_rrp.key(db, regions=("NSW1", "SA1"), end=end, start=start_utc)
    assert k1 == k2
    assert k1.digest() == k2.digest()
    base = make_key("f", {"a": {"y": 1, "x": 2.0}, "b": {3, 1, 2}, "c": Region.NSW}, "v")
    same = make_key("f", {"c": "NSW1", "b": frozenset({2, 1, 3}), "a": {"x": 2, "y": 1}}, "v")
    assert base == same
    assert make_key("f", {"a": [1, 2]}, "v") != make_key("f", {"a": [2, 1]}, "v")
    assert make_key("f", {"a": True}, "v") != make_key("f", {"a": 1}, "v")
    assert make_key("f", {"a": "2024-03-01"}, "v") != make_key("f", {"a": T0.date()}, "v")


def test_defaults_fill_in_so_that_omitted_and_given_arguments_share_a_key(db: Database) -> None:
    k = top_prices.key(db, "NSW1")
    assert top_prices.key(db, "NSW1", 3) == k
    assert top_prices.key(db, region="NSW1", limit=3.0, order="desc") == k
    assert top_prices.key(db, "NSW1", 3, order="asc") != k
    assert top_prices.key(db, "NSW1", 4) != k
    assert top_prices(db, "SA1", 1).column("rrp").to_pylist() == [100.0]
    assert top_prices(db, region="SA1", limit=1).column("rrp").to_pylist() == [100.0]
    assert CALLS["top_prices"] == 1


def test_another_value_version_or_function_gives_another_key(db: Database) -> None:
    end = datetime(2024, 3, 2)
    k1 = mean_rrp.key(db, ["NSW1"], START, end)
    assert mean_rrp.key(db, ["SA1"], START, end) != k1
    assert mean_rrp.key(db, ["NSW1"], START, end + FIVE) != k1
    assert make_key(k1.function, json.loads(k1.params), "other").digest() != k1.digest()
    assert k1._replace(function="tests.other").digest() != k1.digest()


def test_large_or_unknown_parameters_are_refused_as_keys() -> None:
    with pytest.raises(TypeError, match=r"tests\.f: cannot build a cache key from a pyarrow"):
        make_key("tests.f", {"data": table(3)}, "v")
    with pytest.raises(TypeError, match="DataFrame"):
        make_key("tests.f", {"data": pd.DataFrame({"a": [1]})}, "v")


# -- immutability ---------------------------------------------------------------------------------


def test_a_returned_table_cannot_change_the_cached_one(db: Database) -> None:
    end = datetime(2024, 3, 2)
    first = mean_rrp(db, ["NSW1", "SA1"], START, end)
    frame = first.to_pandas()
    frame.loc[0, "rrp"] = -1000.0
    with pytest.raises(ValueError, match="read-only"):
        first.column("rrp").chunk(0).to_numpy(zero_copy_only=True)[0] = -1000.0
    again = mean_rrp(db, ["NSW1", "SA1"], START, end)
    assert again.column("rrp").to_pylist() == [50.0, 100.0]
    assert CALLS["mean_rrp"] == 1


def test_mutable_results_are_refused(db: Database) -> None:
    with pytest.raises(TypeError, match="not a pandas DataFrame"):
        bad_frame(db)
    with pytest.raises(TypeError, match=r"builtins\.list"):
        bad_list(db)
    with pytest.raises(TypeError, match="not frozen"):
        bad_dataclass(db)
    with pytest.raises(TypeError, match=r"the result\.counts is a mutable builtins\.list"):
        check_immutable(PriceSummary("NSW1", 1.0, [1]))  # type: ignore[arg-type]


def test_frozen_dataclass_results_are_cached_in_memory_only(db: Database) -> None:
    first = summary(db, "SA1")
    assert first == PriceSummary("SA1", 100.0, (1, 2))
    assert summary(db, "SA1") is first
    assert CALLS["summary"] == 1
    assert cache_for(db).stats().disk.entries == 0


# -- statistics -----------------------------------------------------------------------------------


def test_stats_count_hits_misses_and_sizes_per_layer(db: Database) -> None:
    end = datetime(2024, 3, 2)
    mean_rrp(db, ["NSW1"], START, end)
    mean_rrp(db, ["NSW1"], START, end)
    mean_rrp(db, ["SA1"], START, end)
    stats = cache_for(db).stats()
    assert (stats.memory.hits, stats.memory.misses, stats.memory.entries) == (1, 2, 2)
    assert (stats.disk.hits, stats.disk.misses, stats.disk.writes) == (0, 2, 2)
    assert stats.disk.entries == 2
    assert stats.memory.hit_ratio == pytest.approx(1 / 3)
    assert [(f.function, f.entries) for f in stats.functions] == [("tests.mean_rrp", 2)]
    assert stats.functions[0].bytes == stats.disk.bytes > 0
    assert stats.memory.bytes > 0


def test_cache_stats_and_clear_cache_work_from_settings_alone(db: Database) -> None:
    end = datetime(2024, 3, 2)
    mean_rrp(db, ["NSW1"], START, end)
    row_counts(db)
    settings = settings_for(db.settings.data_dir)
    stats = cache_stats(settings)
    assert stats.disk.entries == 2
    assert {f.function for f in stats.functions} == {"tests.mean_rrp", "tests.row_counts"}
    assert clear_cache(settings) == 2
    assert cache_stats(settings).disk.entries == 0
    mean_rrp(db, ["NSW1"], START, end)  # this process's memory was dropped too
    assert CALLS["mean_rrp"] == 2


def test_clear_cache_reaches_the_memory_of_other_processes(db: Database, lake: Lake) -> None:
    other = QueryCache(db.settings, lake)  # stands for another process's cache
    use_cache(db, other)
    end = datetime(2024, 3, 2)
    mean_rrp(db, ["NSW1"], START, end)
    # Not registered under these settings in this process: only the marker file reaches it.
    use_cache(db, None)
    assert clear_cache(db.settings) == 1
    use_cache(db, other)
    mean_rrp(db, ["NSW1"], START, end)  # a memory hit, were it not for the marker
    assert CALLS["mean_rrp"] == 2


def test_a_disabled_cache_calls_straight_through(lake: Lake) -> None:
    settings = settings_for(lake.paths.root, cache_memory_bytes=0, cache_disk_bytes=0)
    database = Database(settings, lake)
    try:
        row_counts(database)
        row_counts(database)
        assert CALLS["row_counts"] == 2
        assert not (lake.paths.cache / "query").exists()
    finally:
        database.close()


# -- invalidation ---------------------------------------------------------------------------------


def test_a_new_store_version_invalidates_exactly_what_it_changes(db: Database, lake: Lake) -> None:
    end = datetime(2024, 3, 2)
    assert mean_rrp(db, ["NSW1"], START, end).column("rrp").to_pylist() == [50.0]
    assert row_counts(db).to_pylist() == [{"prices": 4, "scada": 0}]
    # Nothing changed: a forced refresh of the views, time passing, a new Database: all hits.
    db.refresh(force=True)
    mean_rrp(db, ["NSW1"], START, end)
    row_counts(db)
    assert Counter(mean_rrp=1, row_counts=1) == CALLS

    # SCADA published: price results stay valid, the whole-store key moves on.
    publish(lake, {"unit_scada": [scada([T0], "BW01", 300.0)]}, "s1")
    mean_rrp(db, ["NSW1"], START, end)
    assert row_counts(db).to_pylist() == [{"prices": 4, "scada": 1}]
    assert Counter(mean_rrp=1, row_counts=2) == CALLS

    # A publish that records only a source: same.
    publish(lake, {}, "empty")
    mean_rrp(db, ["NSW1"], START, end)
    row_counts(db)
    assert Counter(mean_rrp=1, row_counts=3) == CALLS

    # New prices: both recomputed, with the new data.
    publish(lake, {"dispatch_price": [prices([T0 + 2 * FIVE], {"NSW1": 80.0})]}, "p2")
    assert mean_rrp(db, ["NSW1"], START, end).column("rrp").to_pylist() == [60.0]
    assert row_counts(db).to_pylist() == [{"prices": 5, "scada": 1}]
    assert Counter(mean_rrp=2, row_counts=4) == CALLS

    # A revised price (same key, new value) is a change too.
    publish(lake, {"dispatch_price": [prices([T0 + 2 * FIVE], {"NSW1": 110.0})]}, "p3")
    assert mean_rrp(db, ["NSW1"], START, end).column("rrp").to_pylist() == [70.0]
    assert CALLS["mean_rrp"] == 3


def test_other_processes_publishes_are_seen_within_the_poll_interval(lake: Lake) -> None:
    clock = FakeClock()
    settings = settings_for(lake.paths.root, cache_version_poll=5.0)
    database = Database(settings, lake)
    use_cache(database, QueryCache(settings, lake, clock=clock))
    end = datetime(2024, 3, 2)
    try:
        assert mean_rrp(database, ["SA1"], START, end).column("rrp").to_pylist() == [100.0]
        publish(lake, {"dispatch_price": [prices([T0 + 2 * FIVE], {"SA1": 400.0})]}, "p2")
        clock.advance(4.9)  # not checked yet: the last result is served
        assert mean_rrp(database, ["SA1"], START, end).column("rrp").to_pylist() == [100.0]
        clock.advance(0.1)
        assert mean_rrp(database, ["SA1"], START, end).column("rrp").to_pylist() == [200.0]
        # This process's own Database moving on is noticed at once, whatever the clock says.
        publish(lake, {"dispatch_price": [prices([T0 + 3 * FIVE], {"SA1": 500.0})]}, "p3")
        database.refresh()
        assert mean_rrp(database, ["SA1"], START, end).column("rrp").to_pylist() == [275.0]
    finally:
        database.close()


def test_a_memory_hit_touches_neither_the_disk_nor_the_manifest(lake: Lake) -> None:
    clock = FakeClock()
    settings = settings_for(lake.paths.root, cache_version_poll=60.0)
    database = Database(settings, lake)
    use_cache(database, QueryCache(settings, lake, clock=clock))
    end = datetime(2024, 3, 2)
    try:
        first = mean_rrp(database, ["NSW1"], START, end)
        clear_cache(settings)  # deletes the disk entry; this process's memory too
        second = mean_rrp(database, ["NSW1"], START, end)
        cache_dir = lake.paths.cache / "query"
        for path in cache_dir.glob("*.arrow"):
            path.unlink()
        lake.paths.state_db.rename(lake.paths.root / "moved.sqlite")  # no manifest to read
        assert mean_rrp(database, ["NSW1"], START, end) is second
        assert second.equals(first)
        assert CALLS["mean_rrp"] == 2
    finally:
        database.close()


def test_a_rebuilt_data_directory_never_serves_old_entries(tmp_path: Path) -> None:
    root = tmp_path / "data"
    end = datetime(2024, 3, 2)
    results = []
    for rrp in (50.0, 70.0):
        if (root / "lake").exists():
            shutil.rmtree(root / "lake")
            (root / "state.sqlite").unlink()
        lake = Lake(DataPaths(root))
        assert publish(lake, {"dispatch_price": [prices([T0], {"NSW1": rrp})]}, "p") == 1
        database = Database(settings_for(root), lake)
        try:
            results.append(mean_rrp(database, ["NSW1"], START, end).column("rrp").to_pylist())
        finally:
            database.close()
    assert results == [[50.0], [70.0]]  # same version number, other files: no disk hit


# -- concurrency ----------------------------------------------------------------------------------


def test_concurrent_misses_of_one_key_compute_once(db: Database) -> None:
    release = threading.Event()
    started = threading.Event()

    @cached(name="tests.slow")
    def slow(database: Database, x: int) -> pa.Table:
        CALLS["slow"] += 1
        started.set()
        release.wait(10)
        return pa.table({"x": [x]})

    results: list[pa.Table] = []
    threads = [threading.Thread(target=lambda: results.append(slow(db, 1))) for _ in range(3)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 10
    while cache_for(db).memory.stats().misses < 3 and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until the other two are waiting on the first
    release.set()
    for t in threads:
        t.join(10)
    assert CALLS["slow"] == 1
    assert len(results) == 3
    assert all(r.equals(results[0]) for r in results)


# A child process: imports nemdash only (not this test module, whose imports are heavy).
CHILD = r"""
import json, sys, time
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from nemdash.config import DataPaths, Settings
from nemdash.query.cache import DiskCache, cached, make_key
from nemdash.query.connection import Database
from nemdash.store.lake import Lake

mode, root = sys.argv[1], Path(sys.argv[2])
if mode == "compute":
    calls = 0

    @cached(tables=("dispatch_price",), name="tests.mean_rrp")
    def mean_rrp(db, regions, start, end):
        global calls
        calls += 1
        return db.cursor().sql(sys.argv[3], params=[list(regions), start, end]).to_arrow_table()

    db = Database(Settings(data_dir=root, cache_version_poll=0), Lake(DataPaths(root)))
    result = mean_rrp(db, ["NSW1", "SA1"], datetime(2024, 3, 1), datetime(2024, 3, 2))
    print(json.dumps({"calls": calls, "rows": result.to_pylist()}))
else:
    # Write, read and evict against a tiny bound while another process does the same.
    disk = DiskCache(root, max_bytes=200_000, rescan_interval=0.0)
    values = pa.table({"c0": pa.array(range(500), pa.int64())})
    (root / f"ready-{mode}").touch()
    deadline = time.monotonic() + 60
    while not (root / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    wrong = 0
    for i in range(400):
        key = make_key("tests.key", {"name": str(i % 25)}, "v1")
        disk.put(key, values)
        got = disk.get(key)
        if got is not None and not got.equals(values):
            wrong += 1
    stats = disk.stats()
    print(json.dumps({"wrong": wrong, "errors": stats.errors, "writes": stats.writes}))
"""


def start_child(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_output(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_two_processes_share_the_disk_cache(db: Database, lake: Lake) -> None:
    child = child_output(start_child("compute", str(lake.paths.root), MEAN_RRP_SQL))
    assert child == {
        "calls": 1,
        "rows": [
            {"regionid": "NSW1", "rrp": 50.0, "n": 2},
            {"regionid": "SA1", "rrp": 100.0, "n": 2},
        ],
    }
    result = mean_rrp(db, ["NSW1", "SA1"], START, datetime(2024, 3, 2))
    assert CALLS["mean_rrp"] == 0  # read from the file the other process wrote
    assert result.to_pylist() == child["rows"]
    assert cache_for(db).stats().disk.hits == 1


@pytest.mark.slow
def test_processes_writing_reading_and_evicting_at_once_stay_consistent(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    children = [start_child(name, str(directory)) for name in ("a", "b")]
    deadline = time.monotonic() + 60
    while len(list(directory.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)  # both started: let them loose together
    (directory / "go").touch()
    outputs = [child_output(proc) for proc in children]
    assert [(o["wrong"], o["errors"], o["writes"]) for o in outputs] == [(0, 0, 400)] * 2
    disk = DiskCache(directory, max_bytes=200_000)
    disk.evict()
    assert 0 < disk.stats().bytes <= 200_000
    assert not list(directory.glob("*.tmp"))


# -- warm-up --------------------------------------------------------------------------------------


def test_warm_fills_the_cache_in_a_background_thread(
    db: Database, lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    end = datetime(2024, 3, 2)

    def broken() -> None:
        raise ValueError("no such region")

    publish(lake, {"dispatch_price": [prices([T0 + 2 * FIVE], {"NSW1": 80.0})]}, "p2")
    jobs = [lambda: mean_rrp(db, ["NSW1"], START, end), broken, lambda: row_counts(db)]
    with caplog.at_level(logging.WARNING, logger="nemdash.query.cache"):
        run = warm(db, jobs)
        assert run.join(30)
    assert (run.completed, run.failed, run.total, run.version) == (2, 1, 3, 2)
    assert run.thread is not None
    assert run.thread is not threading.current_thread()
    assert "no such region" in caplog.text
    assert mean_rrp(db, ["NSW1"], START, end).column("rrp").to_pylist() == [60.0]
    row_counts(db)
    assert Counter(mean_rrp=1, row_counts=1) == CALLS  # both served from the warm-up


def test_a_newer_warm_up_supersedes_a_running_one(db: Database) -> None:
    gate, entered = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        gate.wait(10)

    first = warm(db, [hold, lambda: row_counts(db)])
    assert entered.wait(10)
    second = warm(db, [lambda: row_counts(db)])
    assert second.join(30)
    gate.set()
    assert first.join(30)
    assert first.superseded
    assert (first.completed, second.completed) == (1, 1)
    assert CALLS["row_counts"] == 1
