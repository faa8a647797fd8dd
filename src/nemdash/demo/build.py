"""Build the synthetic demo store: generate a NEM once, then load it through the real pipeline.

``nemdash demo`` and the server's offline first run (ARCHITECTURE.md, "Offline first run") serve a
clearly labelled synthetic dataset from a data directory of its own, never the real one. The
dataset is made the way real data arrives, so that the demo exercises the code users run:

1. :func:`nemdash.demo.build_tree` writes a NEMWEB-shaped tree (MMSDM months, a daily ARCHIVE,
   CURRENT 5-minute files, the registration list workbook) under ``<demo dir>/nemweb``;
2. :func:`~nemdash.store.registry.update_registry` reads the generated workbook (first, so that
   the rollups know every unit's region and fuel from the start);
3. :class:`~nemdash.nemweb.mirror.NemwebMirror` serves the tree over HTTP on 127.0.0.1, and
   :func:`~nemdash.collector.backfill.backfill` loads the MMSDM months and the ARCHIVE days, the
   :class:`~nemdash.collector.loop.Collector` the CURRENT files (its cycle brings the rollups up
   to date), both through a copy of the settings whose ``nemweb_url`` is the mirror and whose
   ``data_dir`` is the demo directory;
4. the lake is compacted, :func:`~nemdash.store.rollups.update_rollups` catches up whatever the
   collector left, and the store is checked to hold every interval of the span.

The store is labelled synthetic in its manifest state before any row lands in it
(:data:`SYNTHETIC_KEY` = ``true`` and :data:`SYNTHETIC_PARAMS_KEY`, a JSON object with the size,
seed and span), so the API, the dashboard and CSV exports can say so (:func:`synthetic_info`),
and so :func:`real_data_ready` never mistakes it for real data.

Layout of the demo directory (``settings.demo_data_dir``; unset: ``nemdash-demo`` beside the
per-user data folder)::

    demo-store.json   what was built (parameters, stage, rows, timings): the reuse record,
                      written before anything else (the folder is then known to be ours)
    build.lock        one builder at a time
    nemweb/           the generated NEMWEB tree (the mirror's root; LiveDemo publishes into it)
    lake/ state.sqlite writer.lock registry/ ...   an ordinary data directory (DataPaths)

A second build with the same size and seed reuses the store (nothing is generated or loaded);
other parameters, or ``rebuild=True``, clear the directory and start again. A build interrupted
after the tree was written loads the same tree again on the next call (backfill and collector
skip what they already published).

Time span: the data ends by default at 12:00 (NEM time) on the first day of the current month,
so that nearly all of it is in MMSDM monthly files, the fastest to write and to load (measured on
the project's 2-core machine: a month of 450 units from MMSDM is generated in ~6 s and loaded in
~12 s, while each day of the daily ARCHIVE costs ~2.5 s); the CURRENT files hold that last
morning (04:05 to 12:00) and rooftop PV since the Thursday before. The timestamps are synthetic:
they do not say when the data was made, and the live demo (:mod:`nemdash.demo.live`) carries the
clock on from the end.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Final

import duckdb
from filelock import FileLock, Timeout

from nemdash import nemtime
from nemdash.collector.backfill import BackfillProgress, backfill
from nemdash.collector.loop import Collector
from nemdash.config import Settings, default_data_dir
from nemdash.demo.tree import REGISTRY_FILE, TreePlan, TreeSummary, build_tree, plan_tree
from nemdash.errors import ConfigError, NemdashError, StoreBusy, StoreError
from nemdash.nemweb.client import NemwebClient
from nemdash.nemweb.mirror import NemwebMirror
from nemdash.store.lake import Lake
from nemdash.store.registry import update_registry
from nemdash.store.rollups import missing_tables, update_rollups
from nemdash.tables import TABLES

__all__ = [
    "SYNTHETIC_KEY",
    "SYNTHETIC_PARAMS_KEY",
    "DemoParams",
    "DemoStore",
    "Progress",
    "build_demo_store",
    "default_demo_end",
    "demo_data_dir",
    "demo_params",
    "demo_settings",
    "offline_fallback",
    "open_demo_store",
    "probe_nemweb",
    "real_data_ready",
    "synthetic_info",
]

log = logging.getLogger(__name__)

#: Manifest state key: ``true`` in a synthetic demo store (absent in a real one).
SYNTHETIC_KEY: Final = "store.synthetic"
#: Manifest state key: JSON object describing the synthetic data (generator, size, seed, span).
SYNTHETIC_PARAMS_KEY: Final = "store.synthetic_params"

RECORD: Final = "demo-store.json"
TREE_DIR: Final = "nemweb"
BUILD_LOCK: Final = "build.lock"
_RECORD_FORMAT: Final = 1
#: The synthetic data ends at this time of day on the first day of a month (see module doc).
END_TIME: Final = clock_time(12, 0)
#: CURRENT holds the last market day's intervals (from 04:00); MMSDM every month that ended
#: before it; ARCHIVE the market days between (with the default end, just the one that
#: straddles the month's end).
CURRENT_DAYS: Final = 0.0
ARCHIVE_DAYS: Final = 0
#: What the collector's clock says during the build: just after AEMO would have published the
#: last interval, so the stored lag is that of a healthy collector (the times are synthetic).
_PUBLISHED_AFTER: Final = timedelta(seconds=35)
#: The 5-minute tables whose every interval of the span must be in the store after a build.
_EVERY_INTERVAL: Final = ("dispatch_price", "dispatch_regionsum", "interconnector_flow")
_NOTE: Final = (
    "synthetic demo data: invented stations and participants, simulated weather and market; "
    "not AEMO data"
)

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``. Stages, in order: ``generate mmsdm``, ``generate archive``,
``generate rooftop archive``, ``generate current`` (days or weeks written), ``registry``,
``load archives`` (backfill files), ``load current`` (the collector's cycle, rollups included),
``rollups`` (month partitions, only when the collector left some to do), ``verify``. A reused
store reports nothing."""


def _quiet(stage: str, done: int, total: int) -> None:
    """The progress callback used when none is given."""


# ----------------------------------------------------------------------------------------------
# Parameters and places


@dataclass(frozen=True)
class DemoParams:
    """The size and span of a demo store (times are naive NEM time, period-ending)."""

    days: int | None
    """Days of data (None when ``years`` gives the span)."""
    years: int | None
    units: int
    seed: int
    start: datetime
    """The data holds the intervals ending after this..."""
    end: datetime
    """...up to and including this one."""

    def to_json(self) -> dict[str, Any]:
        """The parameters as a JSON object (times in ISO 8601 with ``+10:00``)."""
        return {
            "days": self.days,
            "years": self.years,
            "units": self.units,
            "seed": self.seed,
            "start": nemtime.isoformat(self.start),
            "end": nemtime.isoformat(self.end),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DemoParams:
        """Read :meth:`to_json`'s output back."""
        return cls(
            days=None if data["days"] is None else int(data["days"]),
            years=None if data["years"] is None else int(data["years"]),
            units=int(data["units"]),
            seed=int(data["seed"]),
            start=_naive(datetime.fromisoformat(data["start"])),
            end=_naive(datetime.fromisoformat(data["end"])),
        )

    def same_size(self, other: DemoParams) -> bool:
        """Same days/years, units and seed (the span's end aside)."""
        return (self.days, self.years, self.units, self.seed) == (
            other.days,
            other.years,
            other.units,
            other.seed,
        )


def _naive(value: datetime) -> datetime:
    """NEM wall clock of an aware or naive (taken as NEM time) datetime."""
    return nemtime.to_naive(nemtime.ensure_aware(value))


def default_demo_end(now: datetime | None = None) -> datetime:
    """12:00 NEM time on the first day of the month, the latest such time not after ``now``."""
    current = _naive(now if now is not None else nemtime.now())
    end = datetime.combine(current.date().replace(day=1), END_TIME)
    if end > current:
        previous = (end.date() - timedelta(days=1)).replace(day=1)
        end = datetime.combine(previous, END_TIME)
    return end


def _years_before(end: datetime, years: int) -> datetime:
    try:
        return end.replace(year=end.year - years)
    except ValueError:  # 29 February
        return end.replace(year=end.year - years, day=28)


def demo_params(
    *,
    days: int = 30,
    years: int | None = None,
    units: int = 450,
    seed: int = 1,
    end: datetime | None = None,
) -> DemoParams:
    """Check the size of a demo and fix its span: ``days`` of data (``years`` instead, when
    given) up to the interval ending at or before ``end`` (default :func:`default_demo_end`; a
    naive value is NEM time)."""
    if years is not None and years < 1:
        raise ConfigError(f"years must be at least 1, got {years}")
    if years is None and days < 1:
        raise ConfigError(f"days must be at least 1, got {days}")
    wanted = _naive(end) if end is not None else default_demo_end()
    ceiling = nemtime.interval_ending(wanted)
    last = ceiling if ceiling == wanted else ceiling - nemtime.FIVE_MINUTES
    start = _years_before(last, years) if years is not None else last - timedelta(days=days)
    return DemoParams(
        days=None if years is not None else days,
        years=years,
        units=units,
        seed=seed,
        start=start,
        end=last,
    )


def demo_data_dir(settings: Settings) -> Path:
    """The demo store's directory; refuses one that is, holds or is inside the real data dir."""
    folder = settings.demo_data_dir or default_data_dir().parent / "nemdash-demo"
    folder = folder.expanduser().resolve()
    real = settings.data_dir.expanduser().resolve()
    if folder == real or folder in real.parents or real in folder.parents:
        raise ConfigError(
            f"the demo data directory {folder} overlaps the real data directory {real}; the "
            "synthetic store must live apart: set NEMDASH_DEMO_DATA_DIR to another folder"
        )
    return folder


def demo_settings(settings: Settings, folder: Path | None = None) -> Settings:
    """Settings that read (and serve) the demo store instead of the real one.

    Only ``data_dir`` points elsewhere (``keep_raw`` is off: the generated tree is the raw data,
    and no stations.json is merged into the invented fleet). Do not collect from NEMWEB with
    them: that would put real rows into the synthetic store.
    """
    return settings.model_copy(
        update={
            "data_dir": folder if folder is not None else demo_data_dir(settings),
            "keep_raw": False,
            "stations_json_url": None,
        }
    )


# ----------------------------------------------------------------------------------------------
# The store and its record


@dataclass(frozen=True)
class DemoStore:
    """A built synthetic demo store."""

    settings: Settings
    """Settings whose ``data_dir`` is the demo store: give these to the server and queries."""
    root: Path
    """The demo directory."""
    params: DemoParams
    version: int
    """The store version when the build (or reuse) returned."""
    rows: Mapping[str, int]
    """Rows per AEMO table in the store."""
    reused: bool
    """True when an existing store was returned without generating or loading anything."""
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per stage of the build that made it (``generate``, ``load archives``,
    ``load current``, ``registry``, ``compact``, ``rollups``, ``verify``, ``total``)."""
    tree: TreeSummary | None = None
    """What was generated, when this call generated it."""

    @property
    def tree_root(self) -> Path:
        """The generated NEMWEB tree (the mirror's root)."""
        return self.root / TREE_DIR

    @property
    def start(self) -> datetime:
        return self.params.start

    @property
    def end(self) -> datetime:
        """End of the last interval built (naive NEM time): where the live demo's clock starts."""
        return self.params.end


@dataclass(frozen=True)
class _Record:
    stage: str
    """``generating`` (tree being written), ``tree`` (tree written, store not finished) or
    ``ready``."""
    params: DemoParams
    data: dict[str, Any]


def _read_record(root: Path) -> _Record | None:
    path = root / RECORD
    try:
        data = json.loads(path.read_text())
        return _Record(str(data["stage"]), DemoParams.from_json(data["params"]), data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s is unreadable (%s): the demo store will be built again", path, exc)
        return None


def _write_record(root: Path, stage: str, params: DemoParams, **extra: Any) -> None:
    data = {
        "format": _RECORD_FORMAT,
        "synthetic": True,
        "note": _NOTE,
        "stage": stage,
        "params": params.to_json(),
        "written_at": nemtime.now().isoformat(timespec="seconds"),
        **extra,
    }
    path = root / RECORD
    temp = path.with_name(f".{RECORD}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    temp.replace(path)


def _store_rows(lake: Lake) -> dict[str, int]:
    rows: dict[str, int] = {}
    for f in lake.live_files():
        if f.table in TABLES:
            rows[f.table] = rows.get(f.table, 0) + f.rows
    return rows


def _is_synthetic(lake: Lake) -> bool:
    return lake.get_state(SYNTHETIC_KEY) == "true"


def synthetic_info(lake: Lake) -> dict[str, Any] | None:
    """What the API, dashboard and CSV exports show about a synthetic store; None when real.

    The JSON object of :data:`SYNTHETIC_PARAMS_KEY`: ``synthetic`` (true), ``note``,
    ``generator``, ``units``, ``seed``, ``days``, ``years``, ``start`` and ``end``.
    """
    if not _is_synthetic(lake):
        return None
    text = lake.get_state(SYNTHETIC_PARAMS_KEY)
    try:
        info: dict[str, Any] = json.loads(text) if text else {}
    except ValueError:
        info = {}
    return {"synthetic": True, "note": _NOTE, **info}


def open_demo_store(settings: Settings) -> DemoStore | None:
    """The demo store already built in the demo directory (whatever its size), or None."""
    root = demo_data_dir(settings)
    record = _read_record(root)
    if record is None or record.stage != "ready":
        return None
    return _opened(settings, root, record)


def _opened(settings: Settings, root: Path, record: _Record) -> DemoStore | None:
    store_settings = demo_settings(settings, root)
    lake = Lake(store_settings.paths)
    version = lake.version()
    if version == 0 or not _is_synthetic(lake) or not (root / TREE_DIR).is_dir():
        return None
    if missing_tables(lake):
        # Built by an older nemdash: it lacks a rollup table the query layer now reads.
        try:
            with lake.writer() as writer:
                update_rollups(writer, lake, {})
            version = lake.version()
        except StoreBusy:
            log.warning("the demo store is busy (a live demo?): its new rollups wait for it")
    timings = record.data.get("timings", {})
    return DemoStore(
        settings=store_settings,
        root=root,
        params=record.params,
        version=version,
        rows=_store_rows(lake),
        reused=True,
        timings={str(k): float(v) for k, v in timings.items()},
    )


# ----------------------------------------------------------------------------------------------
# Building


def build_demo_store(
    settings: Settings,
    *,
    days: int = 30,
    years: int | None = None,
    units: int = 450,
    seed: int | None = None,
    end: datetime | None = None,
    progress: Progress | None = None,
    rebuild: bool = False,
) -> DemoStore:
    """Build the synthetic demo store in the demo directory, or reuse the one already there.

    ``days`` of data (or ``years``, for benchmark scale) for ``units`` DUIDs, ending at ``end``
    (default :func:`default_demo_end`); ``seed`` defaults to ``settings.demo_seed``. An existing
    store of the same days/years, units and seed (and ``end``, when given) is reused unless
    ``rebuild``. The real data directory is never read or written.
    """
    chosen_seed = settings.demo_seed if seed is None else seed
    params = demo_params(days=days, years=years, units=units, seed=chosen_seed, end=end)
    root = demo_data_dir(settings)
    report = progress or _quiet
    with _build_lock(root):
        record = _read_record(root)
        if record is None and _foreign_content(root):
            raise ConfigError(
                f"{root} is not empty and holds no nemdash demo store ({RECORD} is missing); "
                "set NEMDASH_DEMO_DATA_DIR to an empty folder or to a demo store"
            )
        same = (
            record is not None
            and record.params.same_size(params)
            and (end is None or record.params.end == params.end)
        )
        if record is not None and same and not rebuild and record.stage == "ready":
            reused = _opened(settings, root, record)
            if reused is not None:
                log.info(
                    "reusing the synthetic demo store at %s (%d units, %s to %s, version %d)",
                    root,
                    reused.params.units,
                    reused.start,
                    reused.end,
                    reused.version,
                )
                return reused
        started = time.perf_counter()
        timings: dict[str, float] = {}
        summary: TreeSummary | None = None
        if record is not None and same and not rebuild and record.stage == "tree":
            params = record.params
            log.info("the demo tree in %s is complete: loading it into the store again", root)
        else:
            _clear(root)
            # Written first, so that a build stopped half way leaves a folder known to be ours.
            _write_record(root, "generating", params)
            summary = _generate(root, params, report, timings)
            _write_record(root, "tree", params)
        store_settings = demo_settings(settings, root)
        lake = Lake(store_settings.paths)
        _load(store_settings, lake, params, report, timings)
        timings["total"] = time.perf_counter() - started
        rows = _store_rows(lake)
        version = lake.version()
        _write_record(
            root,
            "ready",
            params,
            version=version,
            rows=rows,
            timings={k: round(v, 3) for k, v in timings.items()},
        )
    log.info(
        "built the synthetic demo store at %s in %.1f s: %d units, %s to %s, %s rows of "
        "unit_scada, version %d",
        root,
        timings["total"],
        params.units,
        params.start,
        params.end,
        f"{rows.get('unit_scada', 0):,}",
        version,
    )
    return DemoStore(
        settings=store_settings,
        root=root,
        params=params,
        version=version,
        rows=rows,
        reused=False,
        timings=timings,
        tree=summary,
    )


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One builder per demo directory; a second one waits for the first, then reuses its work."""
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / BUILD_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is building the demo store in %s: waiting for it", root)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _foreign_content(root: Path) -> bool:
    """Whether ``root`` holds anything but our lock file (so it is not ours to clear)."""
    return any(child.name != BUILD_LOCK for child in root.iterdir())


def _clear(root: Path) -> None:
    """Delete everything in the demo directory but the build lock (held by us)."""
    for child in root.iterdir():
        if child.name == BUILD_LOCK:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _generate(
    root: Path, params: DemoParams, report: Progress, timings: dict[str, float]
) -> TreeSummary:
    began = time.perf_counter()
    summary = build_tree(
        root / TREE_DIR,
        params.start,
        params.end,
        units=params.units,
        seed=params.seed,
        current_days=CURRENT_DAYS,
        archive_days=ARCHIVE_DAYS,
        progress=lambda stage, done, total: report(f"generate {stage}", done, total),
    )
    timings["generate"] = time.perf_counter() - began
    return summary


def _backfill_span(plan: TreePlan) -> tuple[date, date] | None:
    """The days to backfill: from the first MMSDM month (or ARCHIVE day) to the last ARCHIVE day
    (or the last MMSDM month's end); every day between is in an ARCHIVE zip or an MMSDM month."""
    if not plan.months and not plan.archive_days:
        return None
    first = plan.months[0] if plan.months else plan.archive_days[0]
    if plan.archive_days:
        last = plan.archive_days[-1]
    else:
        month = plan.months[-1]
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        last = following - timedelta(days=1)
    return first, last


def _load(
    store_settings: Settings,
    lake: Lake,
    params: DemoParams,
    report: Progress,
    timings: dict[str, float],
) -> None:
    """Label the store synthetic, then load the registry and the tree (backfill, collector)."""
    plan = plan_tree(params.start, params.end, current_days=CURRENT_DAYS, archive_days=ARCHIVE_DAYS)
    label = {"synthetic": True, "note": _NOTE, "generator": "nemdash.demo", **params.to_json()}
    tree_root = store_settings.data_dir / TREE_DIR
    with lake.writer() as writer:
        # Before any row: a store interrupted half way is still known to be synthetic.
        writer.set_state(SYNTHETIC_KEY, "true")
        writer.set_state(SYNTHETIC_PARAMS_KEY, json.dumps(label, sort_keys=True))
        # The registry before the data, so that the rollups built with it know every unit.
        began = time.perf_counter()
        report("registry", 0, 1)
        update_registry(writer, store_settings, xlsx=tree_root / REGISTRY_FILE)
        report("registry", 1, 1)
        timings["registry"] = time.perf_counter() - began

    with NemwebMirror(tree_root) as mirror:
        load = store_settings.model_copy(
            update={"nemweb_url": mirror.url, "http_retries": 2, "http_backoff": 0.2}
        )
        began = time.perf_counter()
        span = _backfill_span(plan)
        if span is not None:

            def show(p: BackfillProgress) -> None:
                report("load archives", p.done, p.total)

            backfill_plan, result = backfill(load, span[0], span[1], progress=show)
            if result.failed:
                raise StoreError(
                    f"the demo backfill from the mirror of {tree_root} failed for "
                    f"{len(result.failed)} files (first: {result.failed[0][0]}: "
                    f"{result.failed[0][1]}); run the build again with rebuild=True"
                )
            # Expected: rooftop PV days that only CURRENT holds (the store is verified below).
            log.debug("backfill: %d table-days not on the mirror", len(backfill_plan.missing))
        timings["load archives"] = time.perf_counter() - began

        began = time.perf_counter()
        report("load current", 0, 1)
        published = nemtime.from_naive(params.end) + _PUBLISHED_AFTER
        collector = Collector(load, lake, clock=lambda: published)
        try:
            cycle = collector.run_cycle()
        finally:
            collector.close()
        problems = [
            *(f"{n}: {why}" for f in cycle.feeds.values() for n, why in f.failed),
            *(f"{n}: {why}" for n, why in cycle.quarantined),
            *(f"{f.feed}: {f.error}" for f in cycle.feeds.values() if f.error),
        ]
        if problems:
            raise StoreError(
                f"the demo collector could not load every CURRENT file of {tree_root}: "
                f"{'; '.join(problems[:3])}; run the build again with rebuild=True"
            )
        report("load current", 1, 1)
        timings["load current"] = time.perf_counter() - began

    with lake.writer() as writer:
        began = time.perf_counter()
        writer.compact()  # backfill publishes a file per day and table: merge them per month
        timings["compact"] = time.perf_counter() - began

        # The collector's cycle normally brings the rollups up to date (a first update builds
        # them all); this catches up whatever it did not, and publishes nothing otherwise.
        began = time.perf_counter()
        update_rollups(
            writer, lake, {}, progress=lambda done, total, _p: report("rollups", done, total)
        )
        timings["rollups"] = time.perf_counter() - began
        # Nobody reads a store being built: the files compaction retired can go at once.
        writer.vacuum(grace_seconds=0)

    began = time.perf_counter()
    report("verify", 0, 1)
    _verify(lake, plan, params)
    report("verify", 1, 1)
    timings["verify"] = time.perf_counter() - began


def _verify(lake: Lake, plan: TreePlan, params: DemoParams) -> None:
    """Every interval of the span is in the store, once per unit for SCADA (or raise)."""
    intervals = plan.last - plan.first + 1
    problems: list[str] = []
    scada = sum(f.rows for f in lake.live_files("unit_scada"))
    if scada != intervals * params.units:
        problems.append(
            f"unit_scada has {scada:,} rows, expected {intervals:,} intervals x "
            f"{params.units} units = {intervals * params.units:,}"
        )
    con = duckdb.connect(":memory:", config={"threads": 1})
    try:
        for name in _EVERY_INTERVAL:
            files = [str(f.path) for f in lake.live_files(name)]
            if not files:
                problems.append(f"{name} is empty")
                continue
            found = con.execute(
                "SELECT count(DISTINCT settlementdate), min(settlementdate), max(settlementdate) "
                "FROM read_parquet(?)",
                [files],
            ).fetchone()
            assert found is not None
            count, low, high = found
            first = params.start + nemtime.FIVE_MINUTES
            if count != intervals or low != first or high != params.end:
                problems.append(
                    f"{name} has {count:,} intervals from {low} to {high}, expected "
                    f"{intervals:,} from {first} to {params.end}"
                )
    finally:
        con.close()
    if problems:
        raise StoreError(
            f"the demo store in {lake.paths.root} is incomplete: {'; '.join(problems)}; "
            "this is a bug in the demo pipeline: please report it (rebuild=True starts over)"
        )


# ----------------------------------------------------------------------------------------------
# Offline first run


def real_data_ready(settings: Settings) -> bool:
    """Whether the (real) store of ``settings.data_dir`` holds AEMO data; reads only."""
    lake = Lake(settings.paths)
    if _is_synthetic(lake):
        return False
    return any(table in TABLES for table in lake.tables())


def probe_nemweb(settings: Settings, *, timeout: float | None = None) -> str | None:
    """None when NEMWEB answers a listing of ``Reports/CURRENT/`` quickly; else why not.

    One request, no retries, ``timeout`` seconds (default ``settings.demo_probe_timeout``).
    """
    limit = settings.demo_probe_timeout if timeout is None else timeout
    with NemwebClient(
        settings.nemweb_url, user_agent=settings.user_agent, timeout=limit, retries=0
    ) as client:
        try:
            client.list_dir("Reports/CURRENT/")
        except NemdashError as exc:
            return str(exc)
    return None


def offline_fallback(
    settings: Settings,
    *,
    days: int = 30,
    units: int = 450,
    progress: Progress | None = None,
) -> Settings | None:
    """Settings for the demo store when the real store is empty and NEMWEB is unreachable.

    None when the real store has data or NEMWEB answers (collect real data then). Otherwise the
    demo store already built is used (whatever its size), or one of ``days`` x ``units`` is built
    (up to a minute: call it off the event loop), and settings reading it are returned. Keep the
    original settings for the collector, and switch back when :func:`real_data_ready` says so.
    """
    if real_data_ready(settings):
        return None
    why = probe_nemweb(settings)
    if why is None:
        log.info(
            "the store in %s is empty and NEMWEB answers at %s: collecting real data",
            settings.data_dir,
            settings.nemweb_url,
        )
        return None
    store = open_demo_store(settings) or build_demo_store(
        settings, days=days, units=units, progress=progress
    )
    log.warning(
        "no data in %s and NEMWEB cannot be reached (%s): serving the SYNTHETIC demo store in %s "
        "(%d invented units, %s to %s NEM time; not AEMO data) until real data has been "
        "collected",
        settings.data_dir,
        why,
        store.root,
        store.params.units,
        store.start,
        store.end,
    )
    return store.settings
