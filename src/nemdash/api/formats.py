"""Response formats of a table: JSON, CSV and Arrow, with NEM time and units said explicitly.

Every series can be had three ways (``?format=``):

* ``json`` (default): ``{"meta": {...}, "data": [{column: value}, ...]}``. Timestamps are ISO 8601
  with ``+10:00`` (NEM time, period-ending); units are in ``meta.units``; NaN and infinities
  are ``null``.
* ``csv``: one header row whose numeric column names carry their unit (``rrp_mean`` becomes
  ``rrp_mean_aud_per_mwh``, ``flow_mw`` stays), timestamps with ``+10:00``; when the store holds
  the synthetic demo data the file starts with the comment line ``# synthetic demo data``.
* ``arrow``: an Arrow IPC stream (``application/vnd.apache.arrow.stream``); timestamps are
  ``timestamp[us, tz=+10:00]``, each field's unit is in its metadata (``unit``), and the schema
  metadata carries the store version, the synthetic flag and the effective range.

Rendering is done straight from Arrow (no per-row Python objects for CSV and Arrow, one list of
dicts for JSON), and the results are cached by :mod:`nemdash.api.responses`.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from nemdash.api.models import Meta


class Format(StrEnum):
    """A response format."""

    json = "json"
    csv = "csv"
    arrow = "arrow"


MEDIA_TYPES: Final[Mapping[Format, str]] = {
    Format.json: "application/json",
    Format.csv: "text/csv; charset=utf-8",
    Format.arrow: "application/vnd.apache.arrow.stream",
}
#: The line a CSV export of the synthetic demo store starts with.
SYNTHETIC_LINE: Final = "# synthetic demo data"
#: Timestamps leave the system in NEM time, with its offset (nemtime.py).
NEM_OFFSET: Final = "+10:00"
_TIMESTAMP_FORMAT: Final = f"%Y-%m-%dT%H:%M:%S{NEM_OFFSET}"

#: How a unit is written in a CSV column name.
UNIT_SLUGS: Final[Mapping[str, str]] = {
    "$/MWh": "aud_per_mwh",
    "$": "aud",
    "MW": "mw",
    "MWh": "mwh",
    "GWh": "gwh",
    "%": "pct",
    "minutes": "minutes",
    "hours": "hours",
}
#: Units read from column names (first match wins): AEMO's and the query layer's conventions.
_UNIT_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"_mwh$"), "MWh"),
    (re.compile(r"_gwh$"), "GWh"),
    (re.compile(r"_mw$|^mw$|^mw_"), "MW"),
    (re.compile(r"_pct$"), "%"),
    (re.compile(r"_minutes$"), "minutes"),
    (re.compile(r"_hours$"), "hours"),
    (re.compile(r"_aud$|^revenue"), "$"),
    (re.compile(r"rrp|price"), "$/MWh"),
)


def unit_of(column: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """The unit of a column: from ``overrides``, else from its name (None for counts, flags)."""
    if overrides and column in overrides:
        return overrides[column] or None
    for pattern, unit in _UNIT_PATTERNS:
        if pattern.search(column):
            return unit
    return None


def units_of(table: pa.Table, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The unit of every numeric column that has one."""
    units: dict[str, str] = {}
    for field in table.schema:
        if pa.types.is_floating(field.type) or pa.types.is_integer(field.type):
            unit = unit_of(field.name, overrides)
            if unit is not None:
                units[field.name] = unit
    return units


def csv_name(column: str, unit: str | None) -> str:
    """A CSV header name carrying the unit: ``rrp_mean`` -> ``rrp_mean_aud_per_mwh``."""
    if unit is None:
        return column
    slug = UNIT_SLUGS.get(unit, re.sub(r"[^a-z0-9]+", "_", unit.lower()).strip("_"))
    return column if column == slug or column.endswith(f"_{slug}") else f"{column}_{slug}"


def table_notes(table: pa.Table) -> dict[str, str]:
    """The ``nemdash.*`` schema metadata the query layer records (range, resolution...)."""
    found = table.schema.metadata or {}
    notes = {}
    for key, value in found.items():
        name = key.decode("utf-8", "replace")
        if name.startswith("nemdash."):
            notes[name.removeprefix("nemdash.")] = value.decode("utf-8", "replace")
    return notes


# -- columns --------------------------------------------------------------------------------------


# pyarrow's stubs type compute functions by exact array kinds; columns here are typed Any.


def _each_distinct(column: Any, text: Callable[[Any], Any]) -> Any:
    """``text(column)`` computed once per distinct value: series repeat each time many times.

    ``strftime`` costs ~2 us a value; a week of generation mix is 30,000 rows but 2,016 times.
    """
    distinct = pc.unique(column)
    if len(distinct) * 2 > len(column):
        return text(column)
    return pc.take(text(distinct), pc.index_in(column, distinct))


def _timestamp_text(column: Any) -> Any:
    """ISO 8601 text with +10:00 of a naive NEM-time (or aware) timestamp column."""

    def text(values: Any) -> Any:
        kind = values.type
        if kind.tz is not None:  # an aware column: back to NEM wall-clock time first
            values = pc.local_timestamp(pc.cast(values, pa.timestamp(kind.unit, NEM_OFFSET)))
        seconds = values.cast(pa.timestamp("s"), safe=False)
        return pc.strftime(seconds, format=_TIMESTAMP_FORMAT)

    return _each_distinct(column, text)


def _finite(column: Any) -> Any:
    """The column with NaN and infinities as nulls (JSON has neither)."""
    return pc.if_else(pc.is_finite(column), column, pa.scalar(None, column.type))


def _for_text(table: pa.Table, *, lists: str | None) -> pa.Table:
    """Timestamps and dates as ISO text, floats finite; list columns joined by ``lists``."""
    columns: list[Any] = []
    for field, original in zip(table.schema, table.columns, strict=True):
        kind = field.type
        column: Any = original
        if pa.types.is_timestamp(kind):
            column = _timestamp_text(column)
        elif pa.types.is_date(kind):
            column = _each_distinct(
                column, lambda days: pc.strftime(days.cast(pa.timestamp("s")), format="%Y-%m-%d")
            )
        elif pa.types.is_floating(kind):
            column = _finite(column)
        elif lists is not None and (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            column = pc.binary_join(column.cast(pa.list_(pa.string())), lists)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# -- renderers ------------------------------------------------------------------------------------


_JSON_LOCAL = threading.local()


def _json_connection() -> duckdb.DuckDBPyConnection:
    """This thread's small DuckDB, used only to serialise tables to JSON (opened after a fork)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_JSON_LOCAL, "con", None)
    if con is None or getattr(_JSON_LOCAL, "pid", None) != os.getpid():
        con = duckdb.connect(":memory:", config={"threads": 1})
        _JSON_LOCAL.con, _JSON_LOCAL.pid = con, os.getpid()
    return con


def render_json(table: pa.Table, meta: Meta) -> bytes:
    """``{"meta": ..., "data": [...]}`` for a table.

    The rows are serialised by DuckDB's JSON writer, straight from Arrow: about ten times faster
    than building Python dicts and ``json.dumps`` (a week of 5-minute generation mix is 30,000
    rows, 4 MB of JSON). NaN and infinities are already NULL (``_for_text``), so the output is
    strict JSON.
    """
    text = _for_text(table, lists=None)
    con = _json_connection()
    con.register("json_rows", text)
    try:
        rows = con.execute(
            "SELECT CAST(coalesce(to_json(list(r)), '[]') AS VARCHAR) FROM json_rows r"
        ).fetchall()
    finally:
        con.unregister("json_rows")
    data: str = rows[0][0]
    return b'{"meta":' + meta.model_dump_json().encode() + b',"data":' + data.encode() + b"}"


def render_csv(table: pa.Table, units: Mapping[str, str], *, synthetic: bool) -> bytes:
    """CSV with units in the header names (and the synthetic comment line when it applies)."""
    text = _for_text(table, lists=";")
    text = text.rename_columns([csv_name(n, units.get(n)) for n in table.column_names])
    sink = io.BytesIO()
    if synthetic:
        sink.write(f"{SYNTHETIC_LINE}\n".encode())
    pacsv.write_csv(text, sink, pacsv.WriteOptions(include_header=True))
    return sink.getvalue()


def render_arrow(table: pa.Table, units: Mapping[str, str], meta: Meta) -> bytes:
    """An Arrow IPC stream: NEM-time timestamps with their zone, units in field metadata."""
    fields: list[pa.Field[Any]] = []
    columns: list[Any] = []
    for field, original in zip(table.schema, table.columns, strict=True):
        column: Any = original
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            column = pc.assume_timezone(column, NEM_OFFSET)
        metadata = {"unit": units[field.name]} if field.name in units else None
        fields.append(pa.field(field.name, column.type, field.nullable, metadata))
        columns.append(column)
    schema_metadata: dict[bytes | str, bytes | str] = {
        "nemdash.store_version": str(meta.store_version),
        "nemdash.synthetic": "true" if meta.synthetic else "false",
        "nemdash.generated_at": meta.generated_at.isoformat(),
        **{f"nemdash.{k}": v for k, v in table_notes(table).items()},
    }
    out = pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=schema_metadata))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, out.schema) as writer:
        writer.write_table(out)
    return sink.getvalue()
