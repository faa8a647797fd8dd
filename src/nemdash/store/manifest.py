"""The lake's manifest: a SQLite database (``state.sqlite``, WAL mode) that is the commit point.

A Parquet file in ``lake/`` exists for readers only once a row in the manifest's ``files`` table
says so: a publish writes its files first and then records them, with everything else the publish
changes, in **one** SQLite transaction (see :mod:`nemdash.store.lake`). A crash before that commit
leaves files no reader is told about; after it, all of the publish is visible at once.

Tables (``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`):

``versions``   one row per publish: ``version`` (1, 2, ...; 0 means an empty store),
               ``published_at`` (ISO 8601, NEM time), ``kind`` (publish, replace, compact) and a
               JSON ``summary``.
``files``      every Parquet file ever committed and not yet vacuumed: ``path`` (relative to
               ``lake/``), ``table_name``, ``partition`` (``month=YYYY-MM``; empty for whole-table
               files), ``rows``, ``min_time``/``max_time`` of the table's time column (naive NEM
               time as integer microseconds since 1970-01-01, so that overlap checks are integer
               compares), ``bytes``, ``added_version``, ``removed_version`` (NULL while live) and
               ``removed_at`` (Unix seconds, for the vacuum's grace period). A file is live at
               version ``v`` when ``added_version <= v < removed_version``.
``sources``    ingested source files by (``name``, ``sha256``): size, rows per table (JSON), footer
               check, origin, ``ingested_at`` and the version that published them.
``quarantine`` files that could not be ingested: name, reason, when, origin, stored file name.
``state``      key-value strings (the collector's per-feed watermarks), optionally written in the
               same transaction as a publish.
``meta``       ``oldest_complete_version``: older versions lost files to the vacuum.

Readers open a short-lived connection per call (about 0.2 ms) and read inside one transaction, so
a version and its file list always match; WAL mode lets them read while the writer commits.
Readers never create the database: a missing or empty one reads as an empty store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nemdash import nemtime
from nemdash.errors import StoreError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE versions (
    version      INTEGER PRIMARY KEY,
    published_at TEXT NOT NULL,
    kind         TEXT NOT NULL,
    summary      TEXT NOT NULL
);
CREATE TABLE files (
    path            TEXT PRIMARY KEY,
    table_name      TEXT NOT NULL,
    partition       TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    min_time        INTEGER,
    max_time        INTEGER,
    bytes           INTEGER NOT NULL,
    added_version   INTEGER NOT NULL REFERENCES versions (version),
    removed_version INTEGER REFERENCES versions (version),
    removed_at      REAL
);
CREATE INDEX files_by_table ON files (table_name, partition, removed_version);
CREATE INDEX files_removed ON files (removed_at) WHERE removed_version IS NOT NULL;
CREATE TABLE sources (
    name          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    rows          TEXT NOT NULL,
    footer_ok     INTEGER NOT NULL,
    footer_detail TEXT,
    origin        TEXT,
    ingested_at   TEXT NOT NULL,
    version       INTEGER NOT NULL REFERENCES versions (version),
    PRIMARY KEY (name, sha256)
);
CREATE INDEX sources_by_version ON sources (version);
CREATE TABLE quarantine (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    at        TEXT NOT NULL,
    origin    TEXT,
    stored_as TEXT
);
CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_READ_TIMEOUT = 5.0
_WRITE_TIMEOUT = 30.0


def to_micros(value: datetime) -> int:
    """A naive NEM-time datetime as integer microseconds since 1970-01-01 (the manifest's form)."""
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The inverse of :func:`to_micros`: a naive NEM-time datetime."""
    return _EPOCH + value * _MICROSECOND


def _stamp() -> str:
    """Now, as ISO 8601 in NEM time (``+10:00``)."""
    return nemtime.now().isoformat(timespec="seconds")


@dataclass(frozen=True)
class SourceRecord:
    """A source file as a publish records it (identity: name + SHA-256 of its bytes)."""

    name: str
    sha256: str
    size: int
    rows: Mapping[str, int]
    """Rows the file gave per table (spec name -> rows)."""
    footer_ok: bool
    footer_detail: str | None = None
    """Why the footer check failed, e.g. ``footer says 4375306 lines, file has 2883``."""
    origin: str | None = None
    """URL or path the file came from."""


@dataclass(frozen=True)
class SourceRow:
    """A source file the manifest has recorded."""

    name: str
    sha256: str
    size: int
    rows: Mapping[str, int]
    footer_ok: bool
    footer_detail: str | None
    origin: str | None
    ingested_at: datetime
    """When it was published (aware, NEM time)."""
    version: int
    """The store version that published it."""


@dataclass(frozen=True)
class LakeFile:
    """A Parquet file of the lake as the manifest lists it."""

    path: Path
    """Absolute path."""
    table: str
    partition: str
    """``month=YYYY-MM``, or empty for a whole-table file (e.g. the DUID registry)."""
    rows: int
    min_time: datetime | None
    """Earliest value of the table's time column (naive NEM time); None for whole-table files."""
    max_time: datetime | None
    bytes: int
    added_version: int


@dataclass(frozen=True)
class Snapshot:
    """A store version with the files live at it, read in one transaction."""

    version: int
    files: tuple[LakeFile, ...]

    def for_table(self, table: str) -> list[LakeFile]:
        """The live files of one table."""
        return [f for f in self.files if f.table == table]


@dataclass(frozen=True)
class QuarantineRow:
    """A source that could not be ingested."""

    name: str
    reason: str
    at: datetime
    origin: str | None
    path: Path | None
    """The stored copy under the quarantine folder (None when no bytes were kept)."""


@dataclass(frozen=True)
class VersionRow:
    """One publish: its version, time, kind (publish, replace, compact) and summary."""

    version: int
    published_at: datetime
    kind: str
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewFile:
    """A file written by a publish and waiting for its commit."""

    relpath: str
    """Path relative to ``lake/`` with ``/`` separators."""
    table: str
    partition: str
    rows: int
    min_time: datetime | None
    max_time: datetime | None
    bytes: int


_FILE_COLUMNS = "path, table_name, partition, rows, min_time, max_time, bytes, added_version"


class _Reads:
    """Read queries shared by the reader (:class:`Manifest`) and the writer's connection."""

    def __init__(self, path: Path, lake_root: Path) -> None:
        self.path = path
        self.lake_root = lake_root

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection | None]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def _file(self, row: tuple[Any, ...]) -> LakeFile:
        path, table, partition, rows, min_time, max_time, size, added = row
        return LakeFile(
            path=self.lake_root / path,
            table=table,
            partition=partition,
            rows=rows,
            min_time=None if min_time is None else from_micros(min_time),
            max_time=None if max_time is None else from_micros(max_time),
            bytes=size,
            added_version=added,
        )

    @staticmethod
    def _version(con: sqlite3.Connection) -> int:
        row = con.execute("SELECT max(version) FROM versions").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def version(self) -> int:
        """The latest store version (0 for an empty store)."""
        with self._connection() as con:
            return 0 if con is None else self._version(con)

    def _files_at(
        self, con: sqlite3.Connection, table: str | None, version: int | None, current: int
    ) -> list[LakeFile]:
        if version is None:
            where, args = "removed_version IS NULL", list[object]()  # filled below
        else:
            if not 0 <= version <= current:
                raise StoreError(
                    f"store version {version} does not exist in {self.path} "
                    f"(versions run 0..{current}); ask for the current one"
                )
            oldest = con.execute(
                "SELECT value FROM meta WHERE key = 'oldest_complete_version'"
            ).fetchone()
            if oldest is not None and version < int(oldest[0]):
                raise StoreError(
                    f"store version {version} is older than {oldest[0]}, whose replaced files "
                    f"the vacuum has deleted from {self.lake_root}; read the current version"
                )
            where = "added_version <= ? AND (removed_version IS NULL OR removed_version > ?)"
            args = [version, version]
        if table is not None:
            where += " AND table_name = ?"
            args.append(table)
        rows = con.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE {where} "
            "ORDER BY table_name, partition, min_time, added_version, path",
            args,
        ).fetchall()
        return [self._file(row) for row in rows]

    def live_files(self, table: str | None = None, version: int | None = None) -> list[LakeFile]:
        """Files live at ``version`` (default: the latest), of one table or of all."""
        with self._connection() as con:
            if con is None:
                if version not in (None, 0):
                    raise StoreError(
                        f"store version {version} does not exist: {self.path} is empty"
                    )
                return []
            return self._files_at(con, table, version, self._version(con))

    def snapshot(self, table: str | None = None) -> Snapshot:
        """The latest version and its live files, read together."""
        with self._connection() as con:
            if con is None:
                return Snapshot(0, ())
            current = self._version(con)
            return Snapshot(current, tuple(self._files_at(con, table, None, current)))

    def tables(self) -> list[str]:
        """Tables with at least one live file."""
        with self._connection() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT DISTINCT table_name FROM files WHERE removed_version IS NULL "
                "ORDER BY table_name"
            ).fetchall()
            return [r[0] for r in rows]

    def has_source(self, name: str, sha256: str) -> bool:
        """Whether this exact file (name and content hash) has been published."""
        with self._connection() as con:
            if con is None:
                return False
            row = con.execute(
                "SELECT 1 FROM sources WHERE name = ? AND sha256 = ?", (name, sha256)
            ).fetchone()
            return row is not None

    def sources(self, limit: int | None = None) -> list[SourceRow]:
        """Published sources, newest first."""
        with self._connection() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT name, sha256, size, rows, footer_ok, footer_detail, origin, ingested_at, "
                "version FROM sources ORDER BY version DESC, rowid DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [
            SourceRow(
                name=r[0],
                sha256=r[1],
                size=r[2],
                rows=json.loads(r[3]),
                footer_ok=bool(r[4]),
                footer_detail=r[5],
                origin=r[6],
                ingested_at=datetime.fromisoformat(r[7]),
                version=r[8],
            )
            for r in rows
        ]

    def get_state(self, key: str) -> str | None:
        """A value of the key-value state (collector watermarks), or None."""
        with self._connection() as con:
            if con is None:
                return None
            row = con.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def states(self, prefix: str = "") -> dict[str, str]:
        """Every state key starting with ``prefix`` and its value."""
        with self._connection() as con:
            if con is None:
                return {}
            rows = con.execute(
                "SELECT key, value FROM state WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()
            return {str(k): str(v) for k, v in rows}

    def quarantined(self, folder: Path) -> list[QuarantineRow]:
        """Quarantined sources, newest first; ``folder`` is where their copies are kept."""
        with self._connection() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT name, reason, at, origin, stored_as FROM quarantine ORDER BY id DESC"
            ).fetchall()
        return [
            QuarantineRow(
                name=r[0],
                reason=r[1],
                at=datetime.fromisoformat(r[2]),
                origin=r[3],
                path=None if r[4] is None else folder / r[4],
            )
            for r in rows
        ]

    def versions(self, limit: int | None = None) -> list[VersionRow]:
        """The publish history, newest first."""
        with self._connection() as con:
            if con is None:
                return []
            rows = con.execute(
                "SELECT version, published_at, kind, summary FROM versions "
                "ORDER BY version DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [
            VersionRow(r[0], datetime.fromisoformat(r[1]), r[2], json.loads(r[3])) for r in rows
        ]


def _check_schema_version(found: int, path: Path) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has manifest schema {found}, newer than this nemdash understands "
            f"({SCHEMA_VERSION}); upgrade nemdash"
        )


class Manifest(_Reads):
    """Read access for any process: a short-lived connection and one transaction per call."""

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        try:
            con = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=rw",
                uri=True,
                timeout=_READ_TIMEOUT,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the manifest {self.path}: {exc}") from exc
        try:
            con.execute("BEGIN")  # one snapshot for every query of this call
            found = int(con.execute("PRAGMA user_version").fetchone()[0])
            _check_schema_version(found, self.path)
            yield con if found else None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read the manifest {self.path}: {exc}") from exc
        finally:
            con.close()


class ManifestWriter(_Reads):
    """The writer's connection: creates the schema and commits publishes (one process at a time).

    Only a holder of the lake's writer lock may create one.
    """

    def __init__(self, path: Path, lake_root: Path) -> None:
        super().__init__(path, lake_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The writer may be handed to a worker thread; it is used by one thread at a time.
            self._con = sqlite3.connect(
                path, timeout=_WRITE_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            self._con.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before publish() returns; the files it lists already are.
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the manifest {path} for writing: {exc}") from exc

    def _create_schema(self) -> None:
        found = int(self._con.execute("PRAGMA user_version").fetchone()[0])
        _check_schema_version(found, self.path)
        if found == SCHEMA_VERSION:
            return
        self._con.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._con.execute(statement)
            self._con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection | None]:
        yield self._con

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def commit(
        self,
        *,
        version: int,
        kind: str,
        added: Sequence[NewFile],
        removed: Sequence[LakeFile],
        sources: Sequence[SourceRecord],
        state: Mapping[str, str],
        summary: Mapping[str, Any],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """Publish ``version``: record new files, retire replaced ones, sources and state, at once.

        ``before_commit`` runs inside the transaction, just before COMMIT (crash tests use it).
        """
        stamp, now = _stamp(), time.time()
        try:
            with self._transaction() as con:
                current = self._version(con)
                if version != current + 1:
                    raise StoreError(
                        f"{self.path} moved to version {current} while version {version} was "
                        "being written: another process wrote without the writer lock"
                    )
                con.execute(
                    "INSERT INTO versions (version, published_at, kind, summary) "
                    "VALUES (?, ?, ?, ?)",
                    (version, stamp, kind, json.dumps(summary, sort_keys=True)),
                )
                for old in removed:
                    rel = old.path.relative_to(self.lake_root).as_posix()
                    cursor = con.execute(
                        "UPDATE files SET removed_version = ?, removed_at = ? "
                        "WHERE path = ? AND removed_version IS NULL",
                        (version, now, rel),
                    )
                    if cursor.rowcount != 1:
                        raise StoreError(f"{rel} is not a live file of {self.path}")
                con.executemany(
                    f"INSERT INTO files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            f.relpath,
                            f.table,
                            f.partition,
                            f.rows,
                            None if f.min_time is None else to_micros(f.min_time),
                            None if f.max_time is None else to_micros(f.max_time),
                            f.bytes,
                            version,
                        )
                        for f in added
                    ],
                )
                con.executemany(
                    "INSERT OR REPLACE INTO sources (name, sha256, size, rows, footer_ok, "
                    "footer_detail, origin, ingested_at, version) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            s.name,
                            s.sha256,
                            s.size,
                            json.dumps(dict(s.rows), sort_keys=True),
                            int(s.footer_ok),
                            s.footer_detail,
                            s.origin,
                            stamp,
                            version,
                        )
                        for s in sources
                    ],
                )
                self._put_state(con, state, stamp)
                if before_commit is not None:
                    before_commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot commit version {version} to {self.path}: {exc}") from exc

    @staticmethod
    def _put_state(con: sqlite3.Connection, state: Mapping[str, str], stamp: str) -> None:
        con.executemany(
            "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [(k, v, stamp) for k, v in state.items()],
        )

    def set_state(self, values: Mapping[str, str]) -> None:
        """Write key-value state (no new store version: the lake's data did not change)."""
        with self._transaction() as con:
            self._put_state(con, values, _stamp())

    def add_quarantine(
        self, name: str, reason: str, origin: str | None, stored_as: str | None
    ) -> None:
        """Record a source that could not be ingested."""
        with self._transaction() as con:
            con.execute(
                "INSERT INTO quarantine (name, reason, at, origin, stored_as) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, reason, _stamp(), origin, stored_as),
            )

    def known_paths(self) -> set[str]:
        """Relative paths of every file the manifest lists, live or removed."""
        return {str(r[0]) for r in self._con.execute("SELECT path FROM files").fetchall()}

    def removed_before(self, cutoff: float) -> list[tuple[str, int]]:
        """(relative path, removed_version) of files retired at or before Unix time ``cutoff``."""
        rows = self._con.execute(
            "SELECT path, removed_version FROM files "
            "WHERE removed_version IS NOT NULL AND removed_at <= ? ORDER BY path",
            (cutoff,),
        ).fetchall()
        return [(str(p), int(v)) for p, v in rows]

    def forget(self, paths: Sequence[str], through_version: int) -> None:
        """Drop deleted files from the manifest; versions before ``through_version`` go stale."""
        with self._transaction() as con:
            con.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])
            con.execute(
                "INSERT INTO meta (key, value) VALUES ('oldest_complete_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), "
                "CAST(excluded.value AS INTEGER))",
                (str(through_version),),
            )
