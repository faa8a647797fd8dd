"""One DuckDB database per process, a cursor per thread, and stable views over the lake.

* The database is in memory and holds only **views**: ``dispatch_price``, ``dispatch_regionsum``,
  ``interconnector_flow``, ``unit_scada``, ``trading_price``, ``rooftop_pv`` and ``duid_registry``,
  each a ``read_parquet`` over the files that the manifest lists as live at one store version. The
  Parquet lake stays the single source of truth; nothing is copied.
* The rollup tables (``price_30m``, ``price_day``, ``unit_30m`` ... see
  :mod:`nemdash.store.rollup_specs`) are views of the same kind, named as their tables.
* It is opened lazily in the process that uses it, so a server that forks workers opens one per
  worker (a DuckDB handle must never cross a fork). Each thread gets its own cursor.
* When the store version moves on, the views are replaced in one transaction; queries already
  running keep the snapshot they started with (files are only deleted after a grace period).
* Every query runs with bound parameters, a row cap and a timeout (:meth:`Database.query`).

Time columns are ``TIMESTAMP`` values in NEM time (UTC+10, period-ending): see ``nemtime``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from nemdash.config import Settings
from nemdash.errors import QueryError
from nemdash.store.lake import Lake
from nemdash.store.registry import REGISTRY_SCHEMA, REGISTRY_TABLE
from nemdash.store.rollup_specs import ROLLUP_TABLES
from nemdash.store.sql import parquet_relation
from nemdash.tables import TABLES

log = logging.getLogger(__name__)

#: Statement types ``nemdash sql`` and other user-written SQL may run.
READ_ONLY_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


@dataclass(frozen=True)
class QueryResult:
    """An Arrow table and whether the row cap cut it short."""

    table: pa.Table
    truncated: bool
    elapsed: float


#: Cursors that could not be closed, kept so that no ending thread destroys them (see close).
_UNCLOSED: list[duckdb.DuckDBPyConnection] = []


class Database:
    """The process's DuckDB handle over one data directory."""

    def __init__(self, settings: Settings, lake: Lake | None = None) -> None:
        self.settings = settings
        self.lake = lake if lake is not None else Lake(settings.paths)
        self._lock = threading.Lock()
        self._local = threading.local()
        # Every thread's cursor with its thread, held here so that a cursor is never destroyed by
        # its own thread as it ends (see close); those of ended threads are closed as others come.
        self._cursors: list[tuple[threading.Thread, duckdb.DuckDBPyConnection]] = []
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pid = -1
        self._view_version = -1

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The process-wide connection, (re)opened in this process if it was made before a fork."""
        with self._lock:
            if self._con is None or self._pid != os.getpid():
                self._con = duckdb.connect(
                    ":memory:",
                    config={
                        "memory_limit": self.settings.duckdb_memory_limit,
                        "threads": self.settings.duckdb_threads,
                    },
                )
                self._con.execute("SET TimeZone = 'Australia/Brisbane'")
                # Lake files are never rewritten in place (a new name for every write), so their
                # footers can be cached: it saves ~1/3 of the per-file cost of a short query.
                self._con.execute("SET parquet_metadata_cache = true")
                self._pid = os.getpid()
                self._view_version = -1
                self._local = threading.local()
                self._cursors = []
            return self._con

    @property
    def view_version(self) -> int:
        """The store version the views currently show (-1 before the first refresh)."""
        return self._view_version

    def refresh(self, *, force: bool = False) -> int:
        """Point the views at the current store version; returns that version."""
        con = self._connection()
        version = self.lake.version()
        if version == self._view_version and not force:
            return version
        with self._lock:
            if version == self._view_version and not force:
                return version
            # One snapshot for every view, so that no view mixes two store versions.
            snapshot = self.lake.snapshot()
            version = snapshot.version
            files: dict[str, list[str]] = {}
            for f in snapshot.files:
                files.setdefault(f.table, []).append(str(f.path))
            statements = [_view_sql(name, files.get(name, []), schema) for name, schema in _views()]
            cur = con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                for sql in statements:
                    cur.execute(sql)
                cur.execute("COMMIT")
            except duckdb.Error:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
            log.debug("views now at store version %d", version)
            self._view_version = version
        return version

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, with views at the latest store version."""
        con = self._connection()
        self.refresh()
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = con.cursor()
            self._local.cursor = cur
            with self._lock:
                ended = [(t, c) for t, c in self._cursors if not t.is_alive()]
                for _thread, old in ended:
                    old.close()
                self._cursors = [(t, c) for t, c in self._cursors if t.is_alive()]
                self._cursors.append((threading.current_thread(), cur))
        return cur

    def query(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        row_cap: int | None = None,
        timeout: float | None = None,
    ) -> QueryResult:
        """Run one query with bound parameters, a row cap and a timeout; return Arrow.

        More rows than ``row_cap`` are cut off and flagged ``truncated``; a query that runs past
        ``timeout`` seconds is interrupted and raises :class:`QueryError`.
        """
        cap = row_cap if row_cap is not None else self.settings.query_row_cap
        limit = timeout if timeout is not None else self.settings.query_timeout
        cur = self.cursor()
        timer = threading.Timer(limit, cur.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            # The relational API streams Arrow without the extra copy of a DB-API result.
            relation = cur.sql(sql, params=params)
            if relation is None:
                raise QueryError("the statement returned no result set; give a SELECT query")
            reader = relation.to_arrow_reader(min(cap + 1, 65536))
            batches: list[pa.RecordBatch] = []
            rows = 0
            truncated = False
            for batch in reader:
                if rows + batch.num_rows > cap:
                    batches.append(batch.slice(0, cap - rows))
                    truncated = True
                    break
                batches.append(batch)
                rows += batch.num_rows
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException as exc:
            raise QueryError(f"query interrupted after its {limit:g} s time limit") from exc
        except duckdb.Error as exc:
            raise QueryError(str(exc).strip()) from exc
        finally:
            timer.cancel()
        return QueryResult(table, truncated, time.perf_counter() - started)

    def query_read_only(self, sql: str, **kwargs: Any) -> QueryResult:
        """Run user-written SQL, refusing anything but one SELECT (or EXPLAIN) statement."""
        check_read_only(sql)
        return self.query(sql, **kwargs)

    def close(self) -> None:
        """Close every thread's cursor and the connection (a later call reopens it).

        The cursors are closed and released here, on the calling thread: a cursor left to its
        thread's end is destroyed by that thread, and when that happens while the interpreter
        shuts down DuckDB aborts the process (duckdb/duckdb#13904).
        """
        with self._lock:
            if self._pid == os.getpid():
                for thread, cur in self._cursors:
                    try:
                        cur.close()
                    except duckdb.Error as exc:  # still running a query on its thread
                        log.warning("cursor of %s not closed: %s", thread.name, exc)
                        _UNCLOSED.append(cur)  # destroyed at exit, by the main thread
                if self._con is not None:
                    self._con.close()
            self._cursors = []
            self._local = threading.local()
            self._con = None
            self._view_version = -1


def check_read_only(sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one SELECT or EXPLAIN statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"not valid SQL: {str(exc).strip()}") from exc
    if len(statements) != 1:
        raise QueryError(
            f"give exactly one statement (got {len(statements)}); only SELECT queries are allowed"
        )
    kind = statements[0].type
    if kind not in READ_ONLY_STATEMENTS:
        raise QueryError(
            f"only read-only queries are allowed (SELECT, WITH ... SELECT, EXPLAIN); "
            f"this is a {kind.name} statement"
        )


def _views() -> list[tuple[str, pa.Schema]]:
    views = [(name, spec.arrow_schema) for name, spec in TABLES.items()]
    views.append((REGISTRY_TABLE, REGISTRY_SCHEMA))
    # Rollups (store/rollups.py): views over their lake files too, named as their tables.
    views.extend((name, spec.arrow_schema) for name, spec in ROLLUP_TABLES.items())
    return views


def _view_sql(name: str, files: list[str], schema: pa.Schema) -> str:
    return f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {parquet_relation(files, schema)}"
