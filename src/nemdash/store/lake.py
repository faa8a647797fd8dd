"""The Parquet lake: upsert by primary key, atomic publish, compaction and vacuum.

Layout (see :class:`nemdash.config.DataPaths`)::

    <data_dir>/lake/<table>/month=YYYY-MM/v00000042-3fa9c2d1.parquet   AEMO (MMS) tables
    <data_dir>/lake/<table>/v00000007-0b1c2d3e.parquet                  whole tables (registry)
    <data_dir>/state.sqlite                                             the manifest (commit point)
    <data_dir>/writer.lock                                              one writer at a time

* **Files.** Each file holds one month of one table (the month of the time column's value as
  stored, e.g. the interval ending 2024-02-01 00:00 is in ``month=2024-02``), sorted by the
  table's primary key (which starts with the time column), with no key twice, zstd-compressed,
  statistics on, row groups of about :data:`ROW_GROUP_TARGET` rows or more (or the whole file),
  and exactly the Arrow schema of the table's :class:`~nemdash.tables.TableSpec`. The file name
  starts with the version that added it and ends with a random token, so it is never reused.
* **Publish.** New files are written under a temporary name, fsynced and renamed into place
  (``os.replace``), their folders fsynced; then **one** SQLite transaction in the manifest retires
  the files they replace, lists the new ones, records the sources (and optional collector state)
  and adds the next version. That commit is the only moment anything becomes visible. A crash
  before it leaves orphan files that no reader is ever told about (the vacuum deletes them); a
  crash after it has published everything. Re-running the same publish after a crash gives the
  same store: the upsert below is idempotent.
* **Upsert.** Rows are checked against the live files of the same partition only where their
  time ranges overlap (from the manifest's min/max times, no file is opened otherwise: the usual
  new 5-minute interval just adds a small file). For an overlapping file, its rows in the new
  rows' time range are matched by key: an incoming row equal in every column to the stored one
  is dropped from the incoming rows (so re-publishing the same data rewrites nothing); a stored
  row that an incoming row changes (a re-issued interval) is removed by rewriting that file
  without it, which keeps the file sorted with no re-sort. Incoming duplicates of one key: the
  later row wins. The result: never two rows with one key (NEM-FACTS: "The same interval can
  arrive twice ... upsert by key").
* **Rollups** (:mod:`nemdash.store.rollup_specs`) are keyed tables too, published the same way;
  a rebuild passes ``replace=`` to retire a partition's files in the publish that rewrites it.
* **Compaction** merges the many small files of a partition (288 five-minute files a day) into
  sorted files of at most ``max_file_rows`` rows, in one publish. :meth:`LakeWriter.maybe_compact`
  (called by the collector after its publishes) acts on a partition holding more than
  ``compact_max_files`` files and merges only its files below ``compact_large_rows`` rows, so the
  big month file is not rewritten every few hours; :meth:`LakeWriter.compact` merges everything.
* **Vacuum.** Retired files stay on disk for a grace period (readers that listed them a moment ago
  may still be scanning); :meth:`LakeWriter.vacuum` then deletes them, and orphans older than the
  grace period. Reading an old version whose files were vacuumed raises :class:`StoreError`.
* **Readers** call :meth:`Lake.snapshot` (a version and its files, read together) or
  :meth:`Lake.live_files` with ``version=`` so that views over several tables show one version;
  every publish adds exactly one version, even one that only records sources.
* **One writer.** :meth:`Lake.writer` takes ``writer.lock`` (a ``filelock.FileLock``, which the
  kernel frees if the process dies) and writes the holder's PID into it; a second writer gets
  :class:`StoreBusy` naming the lock file and that PID. Readers take no lock and never block.

Measured on the project's 2-core machine (``benchmarks/lake_bench.py``): a month of UNIT_SCADA
(4.46 M rows) publishes into an empty store in about 0.6 s in AEMO's order and 1.6 s shuffled; a
500-row live publish into that month takes a few milliseconds.

Fault points for crash tests: when the environment variable :data:`FAULT_ENV` names a stage
(``file_written``: after the first file is renamed into place; ``files_written``: all files on
disk, nothing committed; ``transaction_open``: inside the manifest transaction, before COMMIT;
``committed``: after the commit), the process exits at once with ``os._exit`` there, as a
``kill -9`` would leave it. It is read at the moment, never at import.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from nemdash import nemtime
from nemdash.config import DataPaths
from nemdash.errors import StoreBusy, StoreError
from nemdash.store.keys import (
    compare_rows,
    row_group_size,
    rows_not_in,
    sort_unique,
    strictly_increasing,
)
from nemdash.store.manifest import (
    LakeFile,
    Manifest,
    ManifestWriter,
    NewFile,
    QuarantineRow,
    Snapshot,
    SourceRecord,
    SourceRow,
    VersionRow,
)
from nemdash.store.rollup_specs import ROLLUP_TABLES
from nemdash.tables import TABLES, TableSpec

__all__ = [
    "FAULT_ENV",
    "ROW_GROUP_TARGET",
    "Lake",
    "LakeFile",
    "LakeWriter",
    "PublishResult",
    "QuarantineRow",
    "Snapshot",
    "SourceRecord",
    "SourceRow",
    "VersionRow",
    "month_partition",
]

log = logging.getLogger(__name__)

#: Rows per Parquet row group to aim for (at least 100k, so scans and statistics stay efficient).
ROW_GROUP_TARGET = 250_000
#: Environment variable naming a fault point where the process exits (crash tests only).
FAULT_ENV = "NEMDASH_LAKE_FAULT"
#: Seconds a retired file stays on disk before the vacuum deletes it.
DEFAULT_GRACE_SECONDS = 600.0

_WHOLE_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._#%+=@-]")


#: Tables upserted by key in month partitions: AEMO's, and the rollups derived from them.
_KEYED: dict[str, TableSpec] = {**TABLES, **ROLLUP_TABLES}


def _fault_point(stage: str) -> None:
    """Exit abruptly here when the crash tests ask for it (see the module docstring)."""
    if os.environ.get(FAULT_ENV) == stage:
        os._exit(70)


def month_partition(value: datetime) -> str:
    """The partition folder of a time value: ``month=YYYY-MM``."""
    return f"month={value:%Y-%m}"


@dataclass(frozen=True)
class PublishResult:
    """What one publish (or compaction, or whole-table replace) did."""

    version: int
    """The store version it created."""
    rows: Mapping[str, int]
    """Rows written per table: new keys and changed rows (for a compaction: rows rewritten)."""
    files_added: int
    files_removed: int
    unchanged: Mapping[str, int] = field(default_factory=dict)
    """Incoming rows per table identical to rows already stored (nothing written for them)."""


def _fsync(path: Path) -> None:
    """Flush a file or a folder to disk (folders: so that a rename survives a power cut)."""
    if path.is_dir() and os.name != "posix":
        return  # only POSIX can open and fsync a directory
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)


def _conform(table: pa.Table, schema: pa.Schema, source: Path) -> pa.Table:
    """A table read from a file, with exactly ``schema`` (columns added later read as null)."""
    if table.schema.equals(schema):
        return table
    columns: list[pa.ChunkedArray[Any] | pa.Array[Any]] = []
    for spec_field in schema:
        if spec_field.name in table.column_names:
            try:
                columns.append(table.column(spec_field.name).cast(spec_field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise StoreError(
                    f"{source}: column {spec_field.name} cannot be read as {spec_field.type} "
                    f"({exc}); the table's spec changed incompatibly, rebuild the lake"
                ) from exc
        else:
            columns.append(pa.nulls(table.num_rows, spec_field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _read(path: Path, schema: pa.Schema) -> pa.Table:
    """A whole lake file with the spec's schema."""
    try:
        table = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(
            f"cannot read lake file {path}: {exc}; it is listed as live in the manifest, "
            "so the data directory was altered outside nemdash"
        ) from exc
    return _conform(table, schema, path)


def _time_bounds(times: pa.ChunkedArray[Any]) -> tuple[datetime, datetime]:
    """Smallest and largest value of a time column without nulls."""
    bounds = pc.min_max(times)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        raise StoreError("a time column holds no values")  # callers pass non-empty columns
    return low, high


def _slice_bounds(table: pa.Table, column: str, low: datetime, high: datetime) -> tuple[int, int]:
    """Row range [a, b) of a table sorted by ``column`` whose values lie in [low, high]."""
    values = table.column(column).to_numpy()
    a = int(np.searchsorted(values, np.datetime64(low, "us"), side="left"))
    b = int(np.searchsorted(values, np.datetime64(high, "us"), side="right"))
    return a, b


def _read_range(path: Path, spec: TableSpec, low: datetime, high: datetime) -> pa.Table:
    """The rows of a (sorted) lake file whose time lies in [low, high], reading only the row
    groups whose statistics say they may hold some."""
    try:
        parquet = pq.ParquetFile(path)
        index = parquet.schema_arrow.get_field_index(spec.time_column)
        groups: list[int] = []
        for i in range(parquet.num_row_groups):
            stats = parquet.metadata.row_group(i).column(index).statistics
            first = stats.min if stats is not None and stats.has_min_max else None
            last = stats.max if stats is not None and stats.has_min_max else None
            if (
                isinstance(first, datetime)
                and isinstance(last, datetime)
                and (last < low or first > high)
            ):
                continue  # the statistics say no row of this group is in the range
            groups.append(i)
        table = parquet.read_row_groups(groups) if groups else parquet.schema_arrow.empty_table()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"cannot read lake file {path}: {exc}") from exc
    table = _conform(table, spec.arrow_schema, path)
    a, b = _slice_bounds(table, spec.time_column, low, high)
    return table.slice(a, b - a)


def _by_month(table: pa.Table, column: str) -> Iterator[tuple[str, pa.Table]]:
    """Split a table sorted by ``column`` into (partition, rows) by calendar month."""
    months = table.column(column).to_numpy().astype("datetime64[M]")
    cuts = np.flatnonzero(months[1:] != months[:-1]) + 1
    bounds = [0, *cuts.tolist(), table.num_rows]
    for a, b in itertools.pairwise(bounds):
        yield f"month={np.datetime_as_string(months[a])}", table.slice(a, b - a)


def _schema_problem(got: pa.Schema, want: pa.Schema) -> str:
    """A short description of how a schema differs from the spec's."""
    have = {f.name: f.type for f in got}
    need = {f.name: f.type for f in want}
    parts = []
    if missing := [n for n in need if n not in have]:
        parts.append(f"missing {', '.join(missing)}")
    if extra := [n for n in have if n not in need]:
        parts.append(f"unexpected {', '.join(extra)}")
    if wrong := [
        f"{n} is {have[n]} not {t}" for n, t in need.items() if n in have and have[n] != t
    ]:
        parts.append("; ".join(wrong))
    if not parts:
        parts.append("columns are in another order")
    return "; ".join(parts)


def _holder(lock_path: Path) -> str:
    """Who holds the writer lock, as recorded in the lock file."""
    try:
        text = lock_path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        text = ""
    return f"PID {text}" if text.isdigit() else "another process (no PID recorded)"


def _record_pid(fd: int) -> None:
    """Write our PID into the lock file we now hold (filelock's ``on_acquired`` hook)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


def _safe_name(name: str) -> str:
    """A file name for a quarantined source: no folders, no leading dot, no odd characters."""
    safe = _UNSAFE_CHARS.sub("_", name.replace("/", "__").replace("\\", "__")).lstrip(".")
    return safe[:200] or "unnamed"


class Lake:
    """The lake of a data directory: read its manifest anywhere, write through :meth:`writer`.

    Readers open nothing long-lived and take no lock; any number of processes may read while one
    writes. ``compact_max_files``, ``compact_large_rows`` and ``max_file_rows`` tune compaction
    (see the module docstring); ``lock_timeout`` is how long :meth:`writer` waits for the lock.
    """

    def __init__(
        self,
        paths: DataPaths,
        *,
        compact_max_files: int = 24,
        compact_large_rows: int = 1_000_000,
        max_file_rows: int = 8_000_000,
        lock_timeout: float = 1.0,
    ) -> None:
        if compact_max_files < 1 or compact_large_rows < 1 or max_file_rows < 1:
            raise ValueError("compaction limits must be positive")
        self.paths = paths
        self.compact_max_files = compact_max_files
        self.compact_large_rows = compact_large_rows
        self.max_file_rows = max_file_rows
        self.lock_timeout = lock_timeout
        self._manifest = Manifest(paths.state_db, paths.lake)

    def __repr__(self) -> str:
        return f"Lake({str(self.paths.root)!r})"

    def version(self) -> int:
        """The latest store version (0 for an empty store)."""
        return self._manifest.version()

    def snapshot(self, table: str | None = None) -> Snapshot:
        """The latest version and its live files (of one table or all), read together."""
        return self._manifest.snapshot(table)

    def live_files(self, table: str | None = None, *, version: int | None = None) -> list[LakeFile]:
        """Live files (absolute paths) at ``version`` (default latest), of one table or all.

        Files are ordered by table, partition and time. A version older than the latest stays
        readable until the vacuum deletes the files it replaced (after the grace period).
        """
        return self._manifest.live_files(table, version)

    def tables(self) -> list[str]:
        """Tables with live files."""
        return self._manifest.tables()

    def has_source(self, name: str, sha256: str) -> bool:
        """Whether this exact source file (name and SHA-256) was already published."""
        return self._manifest.has_source(name, sha256)

    def sources(self, limit: int | None = None) -> list[SourceRow]:
        """Published source files, newest first."""
        return self._manifest.sources(limit)

    def get_state(self, key: str) -> str | None:
        """A value of the key-value state (e.g. a collector watermark), or None."""
        return self._manifest.get_state(key)

    def states(self, prefix: str = "") -> dict[str, str]:
        """All state values whose key starts with ``prefix``."""
        return self._manifest.states(prefix)

    def quarantined(self) -> list[QuarantineRow]:
        """Sources that could not be ingested, newest first."""
        return self._manifest.quarantined(self.paths.quarantine)

    def versions(self, limit: int | None = None) -> list[VersionRow]:
        """The publish history, newest first."""
        return self._manifest.versions(limit)

    @contextmanager
    def writer(self) -> Iterator[LakeWriter]:
        """Hold the writer lock for the block; raises :class:`StoreBusy` if another holds it."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.paths.writer_lock
        lock = FileLock(
            lock_path,
            timeout=self.lock_timeout,
            preserve_lock_file=True,
            on_acquired=_record_pid,
        )
        try:
            lock.acquire()
        except OSError as exc:
            if not isinstance(exc, Timeout):
                raise StoreError(
                    f"cannot take the writer lock {lock_path}: {exc}; the data directory must be "
                    "on a file system that supports file locks (flock)"
                ) from exc
            raise StoreBusy(
                f"the writer lock {lock_path} is held by {_holder(lock_path)}: another nemdash "
                "process (a collector or an ingest) is writing this data directory; wait for it "
                "to finish or stop it, then retry"
            ) from None
        try:
            manifest = ManifestWriter(self.paths.state_db, self.paths.lake)
            try:
                writer = LakeWriter(self, manifest)
                try:
                    yield writer
                finally:
                    writer._closed = True
            finally:
                manifest.close()
        finally:
            with suppress(OSError):
                os.truncate(lock_path, 0)  # the PID recorded would soon be wrong
            lock.release()


class _Staging:
    """The files one publish writes and retires, until the manifest commits them."""

    def __init__(self, lake_root: Path, version: int) -> None:
        self.lake_root = lake_root
        self.version = version
        self.added: list[NewFile] = []
        self.removed: list[LakeFile] = []
        self._folders: set[Path] = set()

    def write(
        self, table_name: str, partition: str, data: pa.Table, spec: TableSpec | None
    ) -> None:
        """Write one sorted file atomically (temporary name, fsync, rename) and stage it."""
        folder = (
            self.lake_root / table_name / partition if partition else self.lake_root / table_name
        )
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.update(p for p in (folder.parent, folder.parent.parent) if p.is_dir())
        self._folders.add(folder)
        name = f"v{self.version:08d}-{secrets.token_hex(4)}.parquet"
        final, tmp = folder / name, folder / f".{name}.tmp"
        sorting = (
            pq.SortingColumn.from_ordering(
                data.schema, [(k, "ascending") for k in spec.primary_key]
            )
            if spec is not None
            else None
        )
        # pyarrow takes a list of column names here; its stubs only know a bool.
        dictionary: Any = [f.name for f in data.schema if not pa.types.is_floating(f.type)]
        try:
            pq.write_table(
                data,
                tmp,
                compression="zstd",
                row_group_size=row_group_size(data.num_rows, ROW_GROUP_TARGET),
                # A dictionary pays for text and times (few distinct values); for measured
                # floats, nearly all distinct, it only costs time (writes twice as fast without).
                use_dictionary=dictionary,
                write_statistics=True,
                sorting_columns=sorting,
            )
            _fsync(tmp)
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write lake file {final}: {exc}") from exc
        low = high = None
        if spec is not None and data.num_rows:
            low, high = _time_bounds(data.column(spec.time_column))
        self.added.append(
            NewFile(
                relpath=final.relative_to(self.lake_root).as_posix(),
                table=table_name,
                partition=partition,
                rows=data.num_rows,
                min_time=low,
                max_time=high,
                bytes=final.stat().st_size,
            )
        )
        _fault_point("file_written")

    def remove(self, old: LakeFile) -> None:
        """Retire a live file in this publish."""
        self.removed.append(old)

    def sync(self) -> None:
        """Make the renames durable before the commit refers to them."""
        for folder in sorted(self._folders):
            _fsync(folder)

    def discard(self) -> None:
        """Delete the files written (the publish failed before its commit)."""
        for new in self.added:
            with suppress(OSError):
                (self.lake_root / new.relpath).unlink()


class LakeWriter:
    """Write access to a lake, valid inside ``with lake.writer() as writer:`` only."""

    def __init__(self, lake: Lake, manifest: ManifestWriter) -> None:
        self._lake = lake
        self._manifest = manifest
        self._closed = False

    @property
    def lake(self) -> Lake:
        """The lake written to (for reads such as :meth:`Lake.has_source`)."""
        return self._lake

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(
                f"the writer of {self._lake.paths.root} was used after its `with lake.writer()` "
                "block ended; write inside the block"
            )

    # -- publishing -------------------------------------------------------------------------------

    def publish(
        self,
        data: Mapping[str, Sequence[pa.Table]],
        sources: Sequence[SourceRecord],
        *,
        state: Mapping[str, str] | None = None,
        replace: Collection[tuple[str, str]] = (),
    ) -> PublishResult:
        """Upsert rows into the lake and record their sources, as one new store version.

        ``data`` maps a table's spec name to Arrow tables with exactly ``spec.arrow_schema``; it
        may be empty (sources only). ``state`` key-values are written in the same commit (a
        collector's watermark then moves exactly when its data is published). ``replace`` names
        (table, partition) pairs whose live files this publish retires: the rows given become
        the partition's whole content (a rollup rebuild).
        """
        self._check_open()
        replaced = set(replace)
        for name, _ in replaced:
            self._mms_spec(name)
        prepared: dict[str, pa.Table] = {}
        duplicates: dict[str, int] = {}
        for name, parts in data.items():
            spec = self._mms_spec(name)
            table = self._prepare(spec, parts)
            if table is None:
                continue
            prepared[name], dropped = sort_unique(table, spec.primary_key)
            if dropped:
                duplicates[name] = dropped
                log.debug("%s: %d duplicate keys in the batch, the later rows kept", name, dropped)
        version = self._manifest.version() + 1
        staging = _Staging(self._lake.paths.lake, version)
        written: dict[str, int] = {}
        unchanged: dict[str, int] = {}

        def work() -> None:
            for name, partition in sorted(replaced):
                for f in self._manifest.live_files(name):
                    if f.partition == partition:
                        staging.remove(f)
            for name, table in prepared.items():
                spec = _KEYED[name]
                live: dict[str, list[LakeFile]] = defaultdict(list)
                for f in self._manifest.live_files(name):
                    if (name, f.partition) not in replaced:
                        live[f.partition].append(f)
                for partition, rows in _by_month(table, spec.time_column):
                    new, same = self._upsert(staging, spec, partition, rows, live[partition])
                    written[name] = written.get(name, 0) + new
                    unchanged[name] = unchanged.get(name, 0) + same

        summary: dict[str, Any] = {
            "rows": written,
            "unchanged": unchanged,
            "duplicates_dropped": duplicates,
            "sources": len(sources),
        }
        self._commit(staging, "publish", work, summary, sources, state or {})
        result = PublishResult(
            version, dict(written), len(staging.added), len(staging.removed), dict(unchanged)
        )
        log.info(
            "published version %d: %s written, %s unchanged, %d files added, %d removed, "
            "%d sources",
            version,
            written or "no rows",
            unchanged or "none",
            result.files_added,
            result.files_removed,
            len(sources),
        )
        return result

    def _mms_spec(self, name: str) -> TableSpec:
        spec = _KEYED.get(name)
        if spec is None:
            raise StoreError(
                f"publish() got rows for {name!r}, which is not an AEMO table nemdash keeps "
                f"({', '.join(_KEYED)}); whole reference tables go through replace_table()"
            )
        if spec.primary_key[0] != spec.time_column:
            raise StoreError(
                f"table {name}: the primary key must start with the time column "
                f"{spec.time_column} for month partitions to hold sorted files"
            )
        return spec

    @staticmethod
    def _prepare(spec: TableSpec, parts: Sequence[pa.Table]) -> pa.Table | None:
        """Check the incoming tables and concatenate them (None when there are no rows)."""
        schema = spec.arrow_schema
        tables: list[pa.Table] = []
        for i, part in enumerate(parts):
            if not part.schema.equals(schema):
                raise StoreError(
                    f"table #{i + 1} given for {spec.name} does not have the spec's Arrow schema "
                    f"({_schema_problem(part.schema, schema)}); build it with "
                    f"tables.{spec.name.upper()}.arrow_schema"
                )
            if part.num_rows:
                tables.append(pa.Table.from_arrays(part.columns, schema=schema))
        if not tables:
            return None
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        for key in spec.primary_key:
            missing = table.column(key).null_count
            if missing:
                raise StoreError(
                    f"{missing} rows given for {spec.name} have no {key}, a primary key "
                    "column: such rows cannot be upserted; drop or fill them before publishing"
                )
        return table

    def _upsert(
        self,
        staging: _Staging,
        spec: TableSpec,
        partition: str,
        rows: pa.Table,
        live: Sequence[LakeFile],
    ) -> tuple[int, int]:
        """Stage the upsert of one partition's sorted, unique rows; returns (written, unchanged)."""
        low, high = _time_bounds(rows.column(spec.time_column))
        unchanged = 0
        for old in live:
            if old.min_time is None or old.max_time is None:
                continue
            if old.max_time < low or old.min_time > high or rows.num_rows == 0:
                continue
            stored = _read_range(old.path, spec, low, high)
            if stored.num_rows == 0:
                continue
            comparison = compare_rows(stored, rows, spec.primary_key)
            if comparison.changed_keys.num_rows:
                staging.remove(old)
                kept = self._without(old, spec, comparison.changed_keys)
                if kept.num_rows:
                    staging.write(spec.name, partition, kept, spec)
            if len(comparison.unchanged):
                keep = np.ones(rows.num_rows, dtype=np.bool_)
                keep[comparison.unchanged] = False
                rows = rows.filter(pa.array(keep))
                unchanged += len(comparison.unchanged)
        if rows.num_rows:
            staging.write(spec.name, partition, rows, spec)
        return rows.num_rows, unchanged

    @staticmethod
    def _without(old: LakeFile, spec: TableSpec, keys: pa.Table) -> pa.Table:
        """The rows of a lake file, in order, except those with the given keys."""
        table = _read(old.path, spec.arrow_schema)
        low, high = _time_bounds(keys.column(spec.time_column))
        a, b = _slice_bounds(table, spec.time_column, low, high)
        middle = table.slice(a, b - a)
        kept = middle.take(rows_not_in(middle, keys, spec.primary_key))
        return pa.concat_tables([table.slice(0, a), kept, table.slice(b)])

    def _commit(
        self,
        staging: _Staging,
        kind: str,
        work: Callable[[], None],
        summary: dict[str, Any],
        sources: Sequence[SourceRecord],
        state: Mapping[str, str],
    ) -> None:
        """Run ``work`` (which stages files), then commit them as ``staging.version``.

        On failure before the commit the written files are deleted again (or, if that is not
        certain to be safe, left for the vacuum as orphans).
        """
        try:
            work()
            staging.sync()
            _fault_point("files_written")
            summary["files_added"] = len(staging.added)
            summary["files_removed"] = len(staging.removed)
            self._manifest.commit(
                version=staging.version,
                kind=kind,
                added=staging.added,
                removed=staging.removed,
                sources=sources,
                state=state,
                summary=summary,
                before_commit=lambda: _fault_point("transaction_open"),
            )
        except BaseException:
            committed = True  # unless proven otherwise, leave the files for the vacuum
            with suppress(Exception):
                committed = self._manifest.version() >= staging.version
            if not committed:
                staging.discard()
            raise
        _fault_point("committed")

    # -- whole tables -----------------------------------------------------------------------------

    def replace_table(
        self, name: str, table: pa.Table, sources: Sequence[SourceRecord]
    ) -> PublishResult:
        """Replace a whole reference table (not AEMO MMS data, e.g. the DUID registry) at once.

        The table is written as one unpartitioned file, in the row order given, with its own
        schema; every previous file of the table is retired in the same publish.
        """
        self._check_open()
        if name in _KEYED:
            raise StoreError(
                f"{name} is an AEMO table: publish() upserts it by key; replace_table() is for "
                "whole reference tables such as the DUID registry"
            )
        if not _WHOLE_TABLE_NAME.match(name):
            raise StoreError(
                f"{name!r} is not a usable table name: use lower case letters, digits and _ "
                "(it becomes a folder and a DuckDB view)"
            )
        staging = _Staging(self._lake.paths.lake, self._manifest.version() + 1)

        def work() -> None:
            for old in self._manifest.live_files(name):
                staging.remove(old)
            staging.write(name, "", table, None)

        summary: dict[str, Any] = {"rows": {name: table.num_rows}, "sources": len(sources)}
        self._commit(staging, "replace", work, summary, sources, {})
        log.info("replaced %s: %d rows, version %d", name, table.num_rows, staging.version)
        return PublishResult(
            staging.version, {name: table.num_rows}, len(staging.added), len(staging.removed)
        )

    # -- compaction -------------------------------------------------------------------------------

    def _partitions(self, table: str | None) -> dict[tuple[str, str], list[LakeFile]]:
        """Live files of the AEMO tables (or one), by (table, partition)."""
        if table is not None:
            self._mms_spec(table)
        groups: dict[tuple[str, str], list[LakeFile]] = defaultdict(list)
        for f in self._manifest.live_files(table):
            if f.table in _KEYED:
                groups[(f.table, f.partition)].append(f)
        return groups

    def compact(self, table: str | None = None, *, min_files: int = 2) -> PublishResult | None:
        """Merge every partition holding at least ``min_files`` files into sorted files of at
        most ``max_file_rows`` rows, in one publish; None when no partition qualifies."""
        self._check_open()
        chosen = {
            key: files
            for key, files in self._partitions(table).items()
            if len(files) >= max(min_files, 1)
        }
        return self._merge_partitions(chosen) if chosen else None

    def maybe_compact(self) -> PublishResult | None:
        """Compact partitions holding more than ``compact_max_files`` files (their small files
        only, and for a rollup not its newest file); None when none does. Cheap to call after
        every publish."""
        self._check_open()
        chosen: dict[tuple[str, str], list[LakeFile]] = {}
        for key, files in self._partitions(None).items():
            if len(files) <= self._lake.compact_max_files:
                continue
            small = [f for f in files if f.rows < self._lake.compact_large_rows]
            if key[0] in ROLLUP_TABLES:
                # The newest rollup file holds the open buckets that every update rewrites: merged
                # into a large file, each update would rewrite all of it.
                newest = max(files, key=lambda f: (f.max_time or datetime.min, f.added_version))
                small = [f for f in small if f != newest]
            if len(small) >= 2:
                chosen[key] = small
        return self._merge_partitions(chosen) if chosen else None

    def _merge_partitions(
        self, chosen: Mapping[tuple[str, str], Sequence[LakeFile]]
    ) -> PublishResult:
        staging = _Staging(self._lake.paths.lake, self._manifest.version() + 1)
        rows: dict[str, int] = {}

        def work() -> None:
            for (name, partition), files in sorted(chosen.items()):
                spec = _KEYED[name]
                merged = self._merge(spec, files)
                for old in files:
                    staging.remove(old)
                step = self._lake.max_file_rows
                for start in range(0, merged.num_rows, step):
                    staging.write(name, partition, merged.slice(start, step), spec)
                rows[name] = rows.get(name, 0) + merged.num_rows

        summary: dict[str, Any] = {
            "rows": rows,
            "partitions": sorted(f"{t}/{p}" for t, p in chosen),
        }
        self._commit(staging, "compact", work, summary, (), {})
        log.info(
            "compacted %d partitions: %d files into %d, version %d",
            len(chosen),
            len(staging.removed),
            len(staging.added),
            staging.version,
        )
        return PublishResult(staging.version, rows, len(staging.added), len(staging.removed))

    @staticmethod
    def _merge(spec: TableSpec, files: Sequence[LakeFile]) -> pa.Table:
        """The rows of several files of one partition, sorted by key, each key once."""
        by_time = sorted(files, key=lambda f: (f.min_time or datetime.min, f.added_version))
        tables = {f.path: _read(f.path, spec.arrow_schema) for f in by_time}
        merged = pa.concat_tables([tables[f.path] for f in by_time])
        if strictly_increasing(merged, spec.primary_key):
            return merged  # the files did not overlap: nothing to sort
        # Overlapping files: sort. Should a key be in two files (the upsert never lets it), the
        # file added last wins, as a publish would have decided.
        by_version = sorted(files, key=lambda f: (f.added_version, f.path))
        merged, dropped = sort_unique(
            pa.concat_tables([tables[f.path] for f in by_version]), spec.primary_key
        )
        if dropped:
            log.warning(
                "%s: %d keys were stored twice in %s; the newest rows were kept",
                spec.name,
                dropped,
                files[0].path.parent,
            )
        return merged

    # -- housekeeping -----------------------------------------------------------------------------

    def vacuum(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> int:
        """Delete retired files and orphans older than ``grace_seconds``; returns how many.

        Readers may still scan a file for a while after a publish retired it: keep the grace
        period longer than any query.
        """
        self._check_open()
        lake_root = self._lake.paths.lake
        cutoff = time.time() - grace_seconds
        deleted = 0
        retired = self._manifest.removed_before(cutoff)
        for rel, _ in retired:
            try:
                (lake_root / rel).unlink()
                deleted += 1
            except FileNotFoundError:
                pass  # deleted by a vacuum that stopped before forgetting it
        if retired:
            self._manifest.forget([rel for rel, _ in retired], max(v for _, v in retired))
        if lake_root.is_dir():
            known = self._manifest.known_paths()
            folders: list[Path] = []
            for path in lake_root.rglob("*"):
                if path.is_dir():
                    folders.append(path)
                    continue
                if not path.name.endswith((".parquet", ".tmp")):
                    continue
                if path.relative_to(lake_root).as_posix() in known:
                    continue
                with suppress(FileNotFoundError):
                    if path.stat().st_mtime <= cutoff:
                        path.unlink()
                        deleted += 1
                        log.debug("deleted orphan %s", path)
            for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
                with suppress(OSError):
                    folder.rmdir()  # only succeeds when empty
        if deleted:
            log.info("vacuum deleted %d files from %s", deleted, lake_root)
        return deleted

    def quarantine(self, name: str, reason: str, origin: str | None, data: bytes | None) -> None:
        """Keep a source that could not be ingested, with a ``.reason`` file, and record it."""
        self._check_open()
        folder = self._lake.paths.quarantine
        folder.mkdir(parents=True, exist_ok=True)
        safe = _safe_name(name)
        stored = None
        if data is not None:
            _atomic_write(folder / safe, data)
            stored = safe
        note = (
            f"{reason}\n\nsource: {name}\norigin: {origin or '-'}\n"
            f"quarantined at: {nemtime.now().isoformat(timespec='seconds')}\n"
        )
        _atomic_write(folder / f"{safe}.reason", note.encode("utf-8"))
        self._manifest.add_quarantine(name, reason, origin, stored)
        log.warning("quarantined %s: %s", name, reason)

    def set_state(self, key: str, value: str) -> None:
        """Set a key-value state entry (e.g. a collector watermark)."""
        self._check_open()
        self._manifest.set_state({key: value})
