"""Query result caches: an in-memory LRU in front of a disk cache shared by every process.

Query functions are wrapped with :func:`cached`::

    @cached(tables=("dispatch_price",))
    def price_series(db: Database, regions: Sequence[str], start: datetime, ...) -> pa.Table:

A call looks its result up by a **key** of (function, normalised parameters, store tag):

* Parameters are bound to the function's signature (positional or keyword, defaults filled in)
  and normalised (:func:`normalise`): datetimes to ISO 8601 in NEM time (a naive value *is* NEM
  time, an aware one is converted), lists and tuples alike, sets and dict keys sorted, integral
  floats as integers, enums as their values. The canonical JSON of that is the key; its SHA-256
  names the disk file. Large objects (tables, frames) are refused as parameters.
* The **store tag** names the data the result was computed from. By default it is the store
  version (with a fingerprint of the live files, so that a data directory rebuilt from scratch,
  whose versions start again at 1, never hits old entries): any publish starts new keys, and old
  entries are simply never hit again and age out. A function that declares the lake tables it
  reads (``tables=``) gets a finer tag: a fingerprint of the live files of those tables, which
  changes exactly when a publish adds or retires one of their files (lake files are immutable and
  never reuse a name). A publish of SCADA data then leaves cached prices valid. A declared table
  with no live files falls back to the store version (safe, if less effective).
* Each process checks the store version at most every ``cache_version_poll`` seconds (default 1),
  or at once when its :class:`~nemdash.query.connection.Database` has already moved to a newer
  version, so a memory hit costs a dictionary lookup and a few microseconds of key building, with
  no file or database access.

Layers: :class:`MemoryCache` (per process; LRU, bounded in bytes, Arrow tables counted by their
buffers, entries expire ``cache_ttl`` seconds after they were stored) in front of
:class:`DiskCache` (``<data_dir>/cache/query``: Arrow IPC files written to a unique temporary name
and renamed into place, bounded in bytes, least recently used evicted first, where use is the
file's modification time, refreshed at each hit; safe with several processes reading, writing and
evicting at once). Only ``pyarrow.Table`` results go to disk; other results stay in memory.

Results are immutable: a cached function must return a ``pyarrow.Table`` (immutable), a frozen
dataclass, a tuple, or a scalar, recursively; anything else (a pandas DataFrame, a list, a dict)
raises ``TypeError`` so that no caller can change a result for every other caller.

Misses of one key in one process are computed once: concurrent callers wait for the first.
``nemdash cache stats|clear|warm`` use :func:`cache_stats`, :func:`clear_cache` and :func:`warm`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import math
import numbers
import os
import re
import secrets
import sys
import threading
import time
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, Concatenate, Generic, NamedTuple, ParamSpec, TypeVar, cast, overload

import pyarrow as pa

import nemdash
from nemdash import nemtime
from nemdash.config import Settings
from nemdash.query.connection import Database
from nemdash.store.lake import Lake, Snapshot

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Bumped when the key or file format changes, so that old disk entries are never read.
KEY_FORMAT = 1
#: Metadata key of a disk entry holding its key (checked on read, against hash collisions).
_META_KEY = b"nemdash.cache.key"
#: A temporary file older than this was left by a crashed writer and may be deleted.
_STALE_TEMP_SECONDS = 3600.0
#: Evict down to this share of the disk bound, so that eviction does not run at every write.
_LOW_WATER = 0.9
#: An entry bigger than this share of a layer's bound is not cached in that layer.
_MAX_ENTRY_SHARE = 0.25
_SLUG = re.compile(r"[^A-Za-z0-9_.~-]")


class _Missing:
    """The type of :data:`MISSING`."""

    def __repr__(self) -> str:
        return "MISSING"


#: What :meth:`MemoryCache.get` returns for a key it does not hold (a result may be None).
MISSING = _Missing()


# -- keys -----------------------------------------------------------------------------------------


class CacheKey(NamedTuple):
    """A cache key: function name, canonical JSON of its parameters, and the store tag."""

    function: str
    params: str
    tag: str

    def digest(self) -> str:
        """SHA-256 (hex) of the key and the nemdash version: the disk file's name."""
        text = f"{KEY_FORMAT}\n{nemdash.__version__}\n{self.function}\n{self.params}\n{self.tag}"
        return hashlib.sha256(text.encode()).hexdigest()


def normalise(value: object) -> object:
    """A JSON-ready canonical form of a parameter (see the module docstring); TypeError if none."""
    kind = type(value)
    # Exact types first: the usual parameters, on the path of every cache hit.
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [normalise(v) for v in cast(Sequence[object], value)]
    if isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return normalise(value.value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        return int(number) if number.is_integer() else number
    if isinstance(value, datetime):
        return {"$datetime": nemtime.isoformat(value)}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, clock_time):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": normalise(value.total_seconds())}
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, set | frozenset):
        return {"$set": sorted((normalise(v) for v in value), key=_canonical)}
    if isinstance(value, Mapping):
        pairs = [[normalise(k), normalise(v)] for k, v in value.items()]
        return {"$dict": sorted(pairs, key=lambda kv: _canonical(kv[0]))}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: normalise(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$" + type(value).__qualname__: fields}
    raise TypeError(
        f"cannot build a cache key from a {type(value).__module__}.{type(value).__qualname__}: "
        "pass small values (str, numbers, datetimes, sequences, sets, dicts, enums, dataclasses)"
    )


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_key(function: str, params: Mapping[str, object], tag: str) -> CacheKey:
    """The key of a call of ``function`` with ``params`` (names to values) at store ``tag``."""
    try:
        normal = {name: normalise(value) for name, value in params.items()}
    except TypeError as exc:
        raise TypeError(f"{function}: {exc}") from None
    return CacheKey(function, _canonical(normal), tag)


# -- immutability and size ------------------------------------------------------------------------

_ARROW_TYPES = (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray, pa.Scalar, pa.Schema)
_SCALARS = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    Decimal,
    datetime,
    date,
    clock_time,
    timedelta,
    Enum,
    PurePath,
)


def check_immutable(value: object, where: str = "the result") -> None:
    """Raise TypeError unless ``value`` is immutable all the way down (see the module docstring)."""
    if isinstance(value, _ARROW_TYPES + _SCALARS):
        return
    if isinstance(value, tuple | frozenset):
        for item in value:
            check_immutable(item, where)
        return
    if isinstance(value, types.MappingProxyType):
        for item in value.values():
            check_immutable(item, where)
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise TypeError(
                f"{where} is a dataclass {type(value).__qualname__} that is not frozen; "
                "declare it @dataclass(frozen=True) so that a cached result cannot change"
            )
        for f in dataclasses.fields(value):
            check_immutable(getattr(value, f.name), f"{where}.{f.name}")
        return
    raise TypeError(
        f"{where} is a mutable {type(value).__module__}.{type(value).__qualname__}; a cached "
        "result must be immutable: return a pyarrow.Table (not a pandas DataFrame), a frozen "
        "dataclass or a tuple, so that no caller can change it for everyone"
    )


def size_of(value: object) -> int:
    """Approximate bytes held by a result: Arrow buffers for Arrow data, else object sizes."""
    if isinstance(value, pa.Table | pa.RecordBatch | pa.Array | pa.ChunkedArray):
        # The buffers a table keeps alive: a slice keeps the whole of its parent's buffers.
        return max(value.get_total_buffer_size(), value.nbytes)
    if isinstance(value, tuple | frozenset):
        return sys.getsizeof(value) + sum(size_of(v) for v in value)
    if isinstance(value, types.MappingProxyType):
        return sys.getsizeof(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sys.getsizeof(value) + sum(
            size_of(getattr(value, f.name)) for f in dataclasses.fields(value)
        )
    return sys.getsizeof(value)


# -- statistics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerStats:
    """Counters of one cache layer (counts since the process started, sizes now)."""

    layer: str
    hits: int = 0
    misses: int = 0
    writes: int = 0
    evictions: int = 0
    """Entries removed to stay within ``max_bytes``."""
    expirations: int = 0
    """Entries dropped because their TTL had passed (memory only)."""
    errors: int = 0
    """Unreadable or unwritable entries (disk only); the call went on without the cache."""
    entries: int = 0
    bytes: int = 0
    max_bytes: int = 0

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups, or None before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(frozen=True)
class FunctionUsage:
    """Disk entries of one cached function."""

    function: str
    entries: int
    bytes: int


@dataclass(frozen=True)
class CacheStats:
    """Both layers of a cache, and the disk entries per function."""

    directory: Path
    memory: LayerStats
    disk: LayerStats
    functions: tuple[FunctionUsage, ...] = ()


# -- memory layer ---------------------------------------------------------------------------------


@dataclass
class _Entry:
    value: object
    size: int
    expires: float


class MemoryCache:
    """A thread-safe LRU bounded in bytes, whose entries expire ``ttl`` seconds after a put."""

    def __init__(
        self, max_bytes: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_bytes < 0 or ttl <= 0:
            raise ValueError("max_bytes must be >= 0 and ttl > 0")
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._writes = self._evictions = self._expirations = 0

    def get(self, key: CacheKey) -> object:
        """The value stored under ``key`` (now the most recently used), or :data:`MISSING`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return MISSING
            if self._clock() >= entry.expires:
                self._drop(key)
                self._expirations += 1
                self._misses += 1
                return MISSING
            self._entries.move_to_end(key)
            self._hits += 1
            return entry.value

    def put(self, key: CacheKey, value: object, size: int) -> bool:
        """Store ``value``, evicting the least recently used; False if it is too big to keep."""
        if size > self.max_bytes * _MAX_ENTRY_SHARE or self.max_bytes == 0:
            return False
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(value, size, self._clock() + self.ttl)
            self._bytes += size
            self._writes += 1
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)
                self._evictions += 1
        return True

    def _drop(self, key: CacheKey) -> None:
        self._bytes -= self._entries.pop(key).size

    def purge_expired(self) -> int:
        """Drop every expired entry; returns how many."""
        with self._lock:
            now = self._clock()
            expired = [k for k, e in self._entries.items() if now >= e.expires]
            for key in expired:
                self._drop(key)
            self._expirations += len(expired)
            return len(expired)

    def clear(self) -> int:
        """Drop everything; returns how many entries there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._bytes = 0
            return count

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> LayerStats:
        """Counters and current size."""
        with self._lock:
            return LayerStats(
                "memory",
                hits=self._hits,
                misses=self._misses,
                writes=self._writes,
                evictions=self._evictions,
                expirations=self._expirations,
                entries=len(self._entries),
                bytes=self._bytes,
                max_bytes=self.max_bytes,
            )


# -- disk layer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DiskFile:
    path: Path
    function: str
    size: int
    used: float


class DiskCache:
    """Arrow IPC files under one directory, shared by processes, bounded in bytes (LRU).

    Every write goes to a unique temporary name and is renamed into place, so a reader sees a
    whole file or none. Any process may evict; a file that vanishes between listing and reading
    is a miss, and an unreadable one is a miss that deletes it. ``rescan_interval`` bounds how
    long this process trusts its own running total before it lists the directory again (other
    processes write too).
    """

    def __init__(self, directory: Path, max_bytes: int, *, rescan_interval: float = 30.0) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.directory = directory
        self.max_bytes = max_bytes
        self.rescan_interval = rescan_interval
        self._lock = threading.Lock()
        self._estimate: int | None = None
        self._scanned_at = 0.0
        self._hits = self._misses = self._writes = self._evictions = self._errors = 0
        self._options = pa.ipc.IpcWriteOptions(
            compression="lz4" if pa.Codec.is_available("lz4") else None
        )

    def path_for(self, key: CacheKey) -> Path:
        """The file of ``key``: ``<function>.<sha256>.arrow``."""
        return self.directory / f"{_SLUG.sub('_', key.function)[:100]}.{key.digest()}.arrow"

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def get(self, key: CacheKey) -> pa.Table | None:
        """The table stored under ``key``, or None (missing, vanished or unreadable)."""
        path = self.path_for(key)
        try:
            with pa.OSFile(str(path), "rb") as source:
                reader = pa.ipc.open_file(source)
                # pyarrow-stubs lag behind pyarrow here: the file footer's custom metadata.
                stored = (reader.metadata or {}).get(_META_KEY)  # type: ignore[attr-defined]
                table = reader.read_all() if stored == _key_bytes(key) else None
        except FileNotFoundError:
            self._count("_misses")
            return None
        except (OSError, pa.ArrowException) as exc:
            log.warning("unreadable cache file %s (%s); deleting it", path, exc)
            self._count("_errors")
            self._count("_misses")
            with suppress(OSError):
                path.unlink()
            return None
        if table is None:  # another key with the same SHA-256: never expected, but never wrong
            self._count("_misses")
            return None
        with suppress(OSError):
            os.utime(path)  # the modification time records the last use (atime is unreliable)
        self._count("_hits")
        return table

    def put(self, key: CacheKey, table: pa.Table) -> bool:
        """Write ``table`` under ``key`` atomically; False if too big or the write failed."""
        size = size_of(table)
        if size > self.max_bytes * _MAX_ENTRY_SHARE or self.max_bytes == 0:
            return False
        path = self.path_for(key)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with (
                pa.OSFile(str(temp), "wb") as sink,
                pa.ipc.new_file(  # type: ignore[call-arg]  # stubs lack `metadata`
                    sink, table.schema, options=self._options, metadata={_META_KEY: _key_bytes(key)}
                ) as writer,
            ):
                writer.write_table(table)
            written = temp.stat().st_size
            os.replace(temp, path)
        except (OSError, pa.ArrowException) as exc:
            log.warning("cannot write the cache file %s (%s); going on without it", path, exc)
            self._count("_errors")
            with suppress(OSError):
                temp.unlink()
            return False
        with self._lock:
            self._writes += 1
            if self._estimate is not None:
                self._estimate += written
            due = (
                self._estimate is None
                or self._estimate > self.max_bytes
                or time.monotonic() - self._scanned_at > self.rescan_interval
            )
        if due:
            self.evict()
        return True

    def _scan(self) -> list[_DiskFile]:
        """The entries on disk (deleting temporary files left by crashed writers)."""
        found: list[_DiskFile] = []
        now = time.time()
        try:
            listing = list(os.scandir(self.directory))
        except FileNotFoundError:
            return found
        for item in listing:
            try:
                info = item.stat()
            except FileNotFoundError:
                continue  # evicted or replaced by another process meanwhile
            if item.name.endswith(".tmp"):
                if now - info.st_mtime > _STALE_TEMP_SECONDS:
                    with suppress(OSError):
                        os.unlink(item.path)
                continue
            if item.name.endswith(".arrow"):
                function = item.name.rsplit(".", 2)[0]
                found.append(_DiskFile(Path(item.path), function, info.st_size, info.st_mtime))
        return found

    def evict(self) -> int:
        """List the directory and delete the least recently used files beyond the bound."""
        files = self._scan()
        total = sum(f.size for f in files)
        removed = 0
        if total > self.max_bytes:
            target = self.max_bytes * _LOW_WATER
            for f in sorted(files, key=lambda f: f.used):
                if total <= target:
                    break
                with suppress(FileNotFoundError):
                    f.path.unlink()
                    removed += 1
                total -= f.size  # gone either way: by us or by another process
        with self._lock:
            self._estimate = total
            self._scanned_at = time.monotonic()
            self._evictions += removed
        if removed:
            log.debug("disk cache: evicted %d files, %d bytes left", removed, total)
        return removed

    def clear(self) -> int:
        """Delete every entry; returns how many files were deleted."""
        removed = 0
        for f in self._scan():
            with suppress(FileNotFoundError):
                f.path.unlink()
                removed += 1
        with self._lock:
            self._estimate = 0
        return removed

    def usage(self) -> tuple[FunctionUsage, ...]:
        """Entries and bytes on disk per function (listing the directory)."""
        per: dict[str, list[int]] = {}
        for f in self._scan():
            counts = per.setdefault(f.function, [0, 0])
            counts[0] += 1
            counts[1] += f.size
        return tuple(FunctionUsage(name, n, b) for name, (n, b) in sorted(per.items()))

    def stats(self) -> LayerStats:
        """Counters of this process, and the directory's current entries and bytes."""
        files = self._scan()
        with self._lock:
            return LayerStats(
                "disk",
                hits=self._hits,
                misses=self._misses,
                writes=self._writes,
                evictions=self._evictions,
                errors=self._errors,
                entries=len(files),
                bytes=sum(f.size for f in files),
                max_bytes=self.max_bytes,
            )


def _key_bytes(key: CacheKey) -> bytes:
    return _canonical([KEY_FORMAT, nemdash.__version__, *key]).encode()


# -- store tags -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreTags:
    """The store version a cache last saw, and the tags derived from its live files."""

    version: int
    store: str
    """Tag of the whole store: its version and a fingerprint of all its live files."""
    tables: Mapping[str, str]
    """Tag per table with live files: a fingerprint of those files."""

    def tag(self, tables: tuple[str, ...] | None) -> str:
        """The tag for a function reading ``tables`` (None: the whole store)."""
        if tables is None:
            return self.store
        return "+".join(self.tables.get(t, self.store) for t in tables)


def _fingerprint(names: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]


def store_tags(snapshot: Snapshot) -> StoreTags:
    """Tags of a store version: lake file names are unique, so they fingerprint the data."""
    per: dict[str, list[str]] = {}
    for f in snapshot.files:
        per.setdefault(f.table, []).append(f.path.name)
    every = [name for names in per.values() for name in names]
    return StoreTags(
        snapshot.version,
        f"v{snapshot.version}.{_fingerprint(every)}",
        types.MappingProxyType({t: f"{t}.{_fingerprint(n)}" for t, n in per.items()}),
    )


# -- the cache ------------------------------------------------------------------------------------

#: Name of the file whose change tells every process to drop its memory cache.
CLEARED_MARKER = ".cleared"


def _marker_stamp(directory: Path) -> tuple[int, int] | None:
    """Identity of the clear marker (inode, modification time), or None if there is none."""
    try:
        info = (directory / CLEARED_MARKER).stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns)


def disk_directory(settings: Settings) -> Path:
    """Where the disk cache of a data directory lives."""
    return settings.paths.cache / "query"


class QueryCache:
    """The two layers and the store tags of one data directory, in one process."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self.pid = os.getpid()
        self.directory = disk_directory(settings)
        self.memory = MemoryCache(settings.cache_memory_bytes, settings.cache_ttl, clock)
        self.disk = (
            DiskCache(self.directory, settings.cache_disk_bytes)
            if settings.cache_disk_bytes > 0
            else None
        )
        self.enabled = settings.cache_memory_bytes > 0 or self.disk is not None
        self._clock = clock
        self._poll = settings.cache_version_poll
        self._tags: StoreTags | None = None
        self._probed_at = -math.inf
        self._purged_at = clock()
        self._cleared: tuple[int, int] | None = None
        self._probe_lock = threading.Lock()
        self._inflight: dict[CacheKey, Future[object]] = {}
        self._inflight_lock = threading.Lock()
        self._warm_generation = 0

    def tags(self, seen_version: int = -1) -> StoreTags:
        """The store tags, checking the store version when the poll interval has passed.

        ``seen_version`` is a version the caller knows exists (its Database's views): a newer one
        than the cache last saw makes it check at once.
        """
        tags = self._tags
        if (
            tags is not None
            and seen_version <= tags.version
            and self._clock() - self._probed_at < self._poll
        ):
            return tags
        return self._probe(seen_version)

    def _probe(self, seen_version: int) -> StoreTags:
        with self._probe_lock:
            tags = self._tags
            now = self._clock()
            fresh = now - self._probed_at < self._poll
            if tags is not None and seen_version <= tags.version and fresh:
                return tags  # another thread probed meanwhile
            self._check_cleared()
            version = self.lake.version()
            if tags is None or version != tags.version:
                if tags is not None and version < tags.version:
                    # Versions only grow: the data directory was rebuilt. The fingerprints keep
                    # old entries from matching; the memory they hold is freed now.
                    log.warning(
                        "store version went back from %d to %d: the data directory was rebuilt;"
                        " dropping the memory cache",
                        tags.version,
                        version,
                    )
                    self.memory.clear()
                tags = store_tags(self.lake.snapshot())
                self._tags = tags
                log.debug("cache: store now at version %d", tags.version)
            self._probed_at = now
            if now - self._purged_at >= min(self.memory.ttl, 60.0):
                self._purged_at = now
                self.memory.purge_expired()
            return tags

    def _check_cleared(self) -> None:
        """Drop the memory layer if ``clear_cache`` ran (in any process) since the last check."""
        stamp = _marker_stamp(self.directory)
        if stamp != self._cleared:
            if self._cleared is not None or (stamp is not None and self._tags is not None):
                dropped = self.memory.clear()
                log.info("cache cleared elsewhere: %d memory entries dropped", dropped)
            self._cleared = stamp

    def note_version(self, version: int) -> None:
        """Tell the cache that ``version`` exists (after a refresh), so that keys use it at once."""
        self.tags(version)

    def get_or_compute(self, key: CacheKey, compute: Callable[[], R], *, disk: bool = True) -> R:
        """The result under ``key`` from memory, then disk, else ``compute()`` (stored in both)."""
        value = self.memory.get(key)
        if value is not MISSING:
            return cast(R, value)
        with self._inflight_lock:
            pending = self._inflight.get(key)
            leader = pending is None
            if pending is None:
                pending = self._inflight[key] = Future()
        if not leader:
            return cast(R, pending.result())
        try:
            result: object = None
            if disk and self.disk is not None:
                result = self.disk.get(key)
            if result is None:
                result = compute()
                check_immutable(result, f"the result of {key.function}")
                if disk and self.disk is not None and isinstance(result, pa.Table):
                    self.disk.put(key, result)
            self.memory.put(key, result, size_of(result))
            pending.set_result(result)
            return cast(R, result)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with self._inflight_lock:
                del self._inflight[key]

    def clear(self) -> int:
        """Drop the memory layer and delete the disk entries; returns disk files deleted."""
        self.memory.clear()
        return self.disk.clear() if self.disk is not None else 0

    def stats(self) -> CacheStats:
        """Both layers' statistics and the disk entries per function."""
        if self.disk is not None:
            disk = self.disk.stats()
            functions = self.disk.usage()
        else:
            disk, functions = LayerStats("disk"), ()
        return CacheStats(self.directory, self.memory.stats(), disk, functions)


# -- one cache per Database, per process ----------------------------------------------------------

_caches: weakref.WeakKeyDictionary[Database, QueryCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(db: Database) -> QueryCache:
    """The cache of ``db`` in this process, made from its settings on first use and after a fork."""
    cache = _caches.get(db)
    if cache is not None and cache.pid == os.getpid():
        return cache
    with _caches_lock:
        cache = _caches.get(db)
        if cache is None or cache.pid != os.getpid():
            cache = QueryCache(db.settings, db.lake)
            _caches[db] = cache
        return cache


def use_cache(db: Database, cache: QueryCache | None) -> None:
    """Make ``cache`` the cache of ``db`` (e.g. one with a test clock); None forgets it."""
    with _caches_lock:
        if cache is None:
            _caches.pop(db, None)
        else:
            _caches[db] = cache


def _caches_of(settings: Settings) -> list[QueryCache]:
    directory = disk_directory(settings)
    with _caches_lock:
        return [c for c in _caches.values() if c.directory == directory and c.pid == os.getpid()]


# -- the decorator --------------------------------------------------------------------------------


class CachedFunction(Generic[P, R]):
    """A query function whose results are cached (see :func:`cached`)."""

    def __init__(
        self,
        fn: Callable[Concatenate[Database, P], R],
        *,
        name: str | None,
        tables: Sequence[str] | None,
        revision: int,
        disk: bool,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.uncached = fn
        base = name or f"{fn.__module__}.{fn.__qualname__}"
        self.name = base if revision == 0 else f"{base}~{revision}"
        self.tables = None if tables is None else tuple(sorted(set(tables)))
        self.disk = disk
        self._signature = inspect.signature(fn)
        parameters = list(self._signature.parameters.values())
        if not parameters:
            raise TypeError(f"{self.name}: a cached query function takes the Database first")
        self._db_param = parameters[0].name
        rest = parameters[1:]
        # Plain positional-or-keyword parameters let a call with positional arguments only skip
        # Signature.bind (a third of the cost of a hit).
        simple = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in rest)
        self._names = tuple(p.name for p in rest) if simple else None
        self._defaults = tuple(p.default for p in rest)

    def key(self, db: Database, *args: P.args, **kwargs: P.kwargs) -> CacheKey:
        """The cache key of this call at the store version the cache sees now."""
        return self._key(cache_for(db), db, args, kwargs)

    def _key(
        self, cache: QueryCache, db: Database, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CacheKey:
        names = self._names
        if names is not None and not kwargs and len(args) == len(names):
            params = dict(zip(names, args, strict=True))
        elif (
            names is not None
            and not kwargs
            and len(args) < len(names)
            and all(d is not inspect.Parameter.empty for d in self._defaults[len(args) :])
        ):
            params = dict(zip(names, args + self._defaults[len(args) :], strict=True))
        else:
            bound = self._signature.bind(db, *args, **kwargs)
            bound.apply_defaults()
            params = {k: v for k, v in bound.arguments.items() if k != self._db_param}
        tag = cache.tags(db.view_version).tag(self.tables)
        return make_key(self.name, params, tag)

    def __call__(self, db: Database, *args: P.args, **kwargs: P.kwargs) -> R:
        cache = cache_for(db)
        if not cache.enabled:
            return self.uncached(db, *args, **kwargs)
        key = self._key(cache, db, args, kwargs)
        return cache.get_or_compute(key, lambda: self.uncached(db, *args, **kwargs), disk=self.disk)

    def __repr__(self) -> str:
        return f"<cached query {self.name} tables={self.tables}>"


@overload
def cached(fn: Callable[Concatenate[Database, P], R], /) -> CachedFunction[P, R]: ...


@overload
def cached(
    *,
    tables: Sequence[str] | None = None,
    name: str | None = None,
    revision: int = 0,
    disk: bool = True,
) -> Callable[[Callable[Concatenate[Database, P], R]], CachedFunction[P, R]]: ...


def cached(
    fn: Callable[Concatenate[Database, P], R] | None = None,
    /,
    *,
    tables: Sequence[str] | None = None,
    name: str | None = None,
    revision: int = 0,
    disk: bool = True,
) -> CachedFunction[P, R] | Callable[[Callable[Concatenate[Database, P], R]], CachedFunction[P, R]]:
    """Cache a query function ``fn(db, ...)`` in the cache of its Database.

    ``tables``: the lake tables it reads, for the finer store tag (omit to key on the store
    version). ``name``: a stable name for the key (default ``module.qualname``). ``revision``:
    bump it when the function's formula changes within one nemdash release (a new release starts
    new keys anyway). ``disk=False`` keeps results in memory only. The wrapped function stays
    reachable as ``.uncached``.
    """

    def wrap(inner: Callable[Concatenate[Database, P], R]) -> CachedFunction[P, R]:
        return CachedFunction(inner, name=name, tables=tables, revision=revision, disk=disk)

    return wrap if fn is None else wrap(fn)


# -- nemdash cache stats | clear | warm -----------------------------------------------------------


def cache_stats(settings: Settings) -> CacheStats:
    """Statistics of the cache of a data directory: disk entries, plus this process's counters."""
    live = _caches_of(settings)
    if live:
        return live[0].stats()
    disk = DiskCache(disk_directory(settings), settings.cache_disk_bytes)
    memory = LayerStats("memory", max_bytes=settings.cache_memory_bytes)
    return CacheStats(disk.directory, memory, disk.stats(), disk.usage())


def clear_cache(settings: Settings) -> int:
    """Delete the disk cache and tell every process to drop its memory cache; returns files deleted.

    This process's caches drop their memory at once; other processes at their next store-version
    check (within ``cache_version_poll`` seconds).
    """
    directory = disk_directory(settings)
    removed = DiskCache(directory, settings.cache_disk_bytes).clear()
    directory.mkdir(parents=True, exist_ok=True)
    # A new file (new inode) each time, so that two clears within one clock tick still differ.
    marker = directory / CLEARED_MARKER
    temp = directory / f".{CLEARED_MARKER}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    temp.write_text(f"cleared at {nemtime.now().isoformat()} by process {os.getpid()}\n")
    os.replace(temp, marker)
    for cache in _caches_of(settings):
        cache.memory.clear()
        cache._cleared = _marker_stamp(directory)
    log.info("cache cleared: %d files deleted from %s", removed, directory)
    return removed


class Warmup:
    """A warm-up running in a background thread: wait for it with :meth:`join`."""

    def __init__(self, jobs: Sequence[Callable[[], object]]) -> None:
        self.total = len(jobs)
        self.completed = 0
        self.failed = 0
        self.superseded = False
        self.version = -1
        self.thread: threading.Thread | None = None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up to end; True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True

    @property
    def done(self) -> bool:
        """Whether the warm-up has ended (finished or superseded)."""
        return self.thread is None or not self.thread.is_alive()

    def __repr__(self) -> str:
        return (
            f"<Warmup {self.completed}/{self.total} done, {self.failed} failed, "
            f"version {self.version}{', superseded' if self.superseded else ''}>"
        )


def warm(db: Database, jobs: Iterable[Callable[[], object]]) -> Warmup:
    """Run ``jobs`` (calls of cached query functions) one by one in a background thread.

    Call it after start-up and after each refresh: the views and the cache move to the current
    store version first, so that every job fills a current key. A job that fails is logged and
    skipped. A newer warm-up of the same cache supersedes this one at its next job.
    """
    calls = list(jobs)
    cache = cache_for(db)
    with cache._inflight_lock:
        cache._warm_generation += 1
        generation = cache._warm_generation
    run = Warmup(calls)

    def work() -> None:
        try:
            run.version = db.refresh()
            cache.note_version(run.version)
        except Exception:
            log.exception("cache warm-up could not refresh the views; warming anyway")
        for job in calls:
            if cache._warm_generation != generation:
                run.superseded = True
                log.info("cache warm-up superseded after %d of %d jobs", run.completed, run.total)
                return
            try:
                job()
                run.completed += 1
            except Exception as exc:
                run.failed += 1
                log.warning("cache warm-up: %r failed: %s", job, exc)
        log.info(
            "cache warm-up at version %d: %d jobs done, %d failed",
            run.version,
            run.completed,
            run.failed,
        )

    run.thread = threading.Thread(target=work, name="nemdash-cache-warm", daemon=True)
    run.thread.start()
    return run
