"""SQL text over lake files, shared by the views (query/) and the rollups (store/).

Paths are quoted as SQL string literals (they are the lake's own file names, never user input);
every value a user gives is bound as a parameter elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def duck_type(kind: pa.DataType) -> str:
    """The DuckDB type of an Arrow type used in the lake."""
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_floating(kind):
        return "DOUBLE"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_date(kind):
        return "DATE"
    return "VARCHAR"


def parquet_relation(files: Sequence[str], schema: pa.Schema) -> str:
    """A subquery over lake files (without hive ``month=`` columns), or an empty one typed by
    ``schema`` when there are no files, so that queries over an empty table still bind."""
    if files:
        listing = ", ".join(quote(f) for f in files)
        return f"(SELECT * FROM read_parquet([{listing}], hive_partitioning = false))"
    columns = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {f.name}" for f in schema)
    return f"(SELECT {columns} WHERE false)"
