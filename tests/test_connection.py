"""The process's DuckDB: views follow the store version, queries are capped, timed and read-only."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from nemdash.config import Settings
from nemdash.errors import QueryError
from nemdash.query.connection import Database, check_read_only
from nemdash.store.lake import Lake, SourceRecord
from nemdash.tables import UNIT_SCADA


def scada(minutes: int, duids: list[str], mw: float) -> pa.Table:
    """One interval of UNIT_SCADA rows with the spec's schema."""
    when = datetime(2025, 1, 1) + timedelta(minutes=minutes)
    return pa.table(
        {
            "settlementdate": pa.array([when] * len(duids), pa.timestamp("us")),
            "duid": duids,
            "scadavalue": [mw] * len(duids),
            "lastchanged": pa.array([None] * len(duids), pa.timestamp("us")),
        },
        schema=UNIT_SCADA.arrow_schema,
    )


def publish(lake: Lake, name: str, table: pa.Table) -> int:
    with lake.writer() as writer:
        result = writer.publish(
            {"unit_scada": [table]},
            [SourceRecord(name, name, 1, {"unit_scada": table.num_rows}, True)],
        )
    return result.version


@pytest.fixture
def db(tmp_path: Path) -> Database:
    settings = Settings(data_dir=tmp_path, query_timeout=5.0)
    return Database(settings)


def test_an_empty_store_has_every_view_with_its_columns(db: Database) -> None:
    result = db.query("SELECT * FROM unit_scada")
    assert result.table.num_rows == 0
    assert result.table.column_names == ["settlementdate", "duid", "scadavalue", "lastchanged"]
    assert db.query("SELECT count(*) AS n FROM duid_registry").table.to_pylist() == [{"n": 0}]


def test_views_follow_each_new_store_version(db: Database) -> None:
    publish(db.lake, "a", scada(5, ["A1", "B1"], 10.0))
    assert db.query("SELECT sum(scadavalue) AS s FROM unit_scada").table.to_pylist() == [
        {"s": 20.0}
    ]
    version = publish(db.lake, "b", scada(10, ["A1"], 5.0))
    assert db.query("SELECT sum(scadavalue) AS s FROM unit_scada").table.to_pylist() == [
        {"s": 25.0}
    ]
    assert db.view_version == version


def test_parameters_are_bound_not_formatted(db: Database) -> None:
    publish(db.lake, "a", scada(5, ["A1", "B1"], 10.0))
    hostile = "A1' OR '1'='1"
    rows = db.query("SELECT duid FROM unit_scada WHERE duid = ?", [hostile]).table
    assert rows.num_rows == 0
    assert db.query("SELECT duid FROM unit_scada WHERE duid = ?", ["A1"]).table.num_rows == 1


def test_row_cap_truncates_and_says_so(db: Database) -> None:
    result = db.query("SELECT * FROM range(100)", row_cap=7)
    assert result.table.num_rows == 7
    assert result.truncated
    assert not db.query("SELECT * FROM range(7)", row_cap=7).truncated


def test_a_query_over_its_time_limit_is_interrupted(db: Database) -> None:
    with pytest.raises(QueryError, match="time limit"):
        db.query("SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3", timeout=0.3)
    # The cursor is usable again afterwards.
    assert db.query("SELECT 1 AS one").table.to_pylist() == [{"one": 1}]


def test_sql_errors_become_query_errors(db: Database) -> None:
    with pytest.raises(QueryError, match="no_such_table"):
        db.query("SELECT * FROM no_such_table")


@pytest.mark.parametrize(
    "sql",
    ["DROP VIEW unit_scada", "CREATE TABLE t (a INT)", "SELECT 1; SELECT 2", "ATTACH 'x.db'", ""],
)
def test_only_one_select_is_read_only(sql: str) -> None:
    with pytest.raises(QueryError):
        check_read_only(sql)


def test_selects_and_explain_are_allowed() -> None:
    for sql in ("SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "EXPLAIN SELECT 1"):
        check_read_only(sql)


def test_close_closes_every_threads_cursor_and_a_later_query_reopens(db: Database) -> None:
    # A cursor left for its own thread to destroy aborts the process when that happens during
    # interpreter shutdown (duckdb/duckdb#13904): close() must close them all itself.
    seen: list[object] = []

    def work() -> None:
        db.query("SELECT 1")
        seen.append(db.cursor())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    db.close()
    with pytest.raises(duckdb.ConnectionException):
        seen[0].execute("SELECT 1")  # type: ignore[attr-defined]
    assert db.query("SELECT 42 AS x").table.column("x").to_pylist() == [42]


def test_cursors_of_ended_threads_are_closed_not_kept(db: Database) -> None:
    for _ in range(5):
        thread = threading.Thread(target=lambda: db.query("SELECT 1"))
        thread.start()
        thread.join()
    db.query("SELECT 1")
    # The five ended threads' cursors were closed when this thread asked for its own.
    assert len(db._cursors) == 1
