"""Rollups: the 30-minute and daily aggregates that every chart reads, kept in the lake.

The tables are declared in :mod:`nemdash.store.rollup_specs` (``price``, ``unit``, ``fuel`` and
``interconnector``, each at grain ``30m`` and ``day``). This module computes them with DuckDB from
the lake's 5-minute tables and publishes them through :meth:`LakeWriter.publish`: month
partitions, upserted by key, atomic, versioned with the data. The lake is the truth; a rollup can
always be rebuilt from it.

Formulas (NEM-FACTS.md, "Calculations users expect"; times are NEM time, period-ending):

* Buckets: ``30m`` ending 14:30 holds the intervals ending 14:05..14:30; ``day`` holds the
  intervals ending 00:05..24:00 of a calendar day (``bucket_end`` is the next midnight, ``day``
  the date). A 30-minute value is ``sum / count``, the mean of the intervals present; ``expected``
  says how many there should be (6, 288; rooftop PV 1, 48), so ``count / expected`` is the
  bucket's completeness and a partial bucket is visible, never silently scaled.
* Market prices and demand: ``dispatch_price`` / ``dispatch_regionsum`` rows with
  ``intervention = 0`` (an intervention run adds a second row per region).
* Energy = sum of MW x 5/60 (SCADA is instantaneous MW); rooftop PV's POWER is the half-hour's
  average MW, so its energy is MW x 0.5.
* Revenue = sum of MW x 5/60 x the spot price of the unit's region (from ``duid_registry``) at
  the interval. The spot price is ``trading_price.rrp``: before five-minute settlement (intervals
  ending before 2021-10-01 04:05) the 30-minute price of the half hour containing the interval,
  afterwards the interval's own 5-minute price. Where ``trading_price`` has no row, the dispatch
  RRP (intervention 0) stands in: averaged over the half hour before 2021-10-01 (the trading price
  *is* that average), the interval's own after. A unit absent from the registry (or without a
  region) has no price: its revenue is NULL and ``revenue_count`` says how many intervals were
  priced. Rooftop PV revenue uses the half hour's mean spot price.
* Fuel rollups sum the units of a region and fuel per interval first, then aggregate those fleet
  totals; the generating (MW > 0) and consuming (MW < 0, battery charging) parts are kept apart.
  A scheduled load (``dispatch_type`` load, e.g. a pumped-hydro pump) reports the MW it draws as
  positive SCADA, so its sign is flipped: it is consumption in the fleet's output.
  Units the registry does not know are region and fuel ``unknown``; AEMO's aggregate pseudo-units
  (``DG_*``/``RT_*``, ``is_aggregate``) are left out, as they are not physical units. Rooftop PV
  enters as fuel ``rooftop_solar`` for the five regions only (the sub-regions QLDC/QLDN/QLDS and
  TASN/TASS are parts of QLD1 and TAS1), MEASUREMENT preferred to SATELLITE.

Keeping them current:

* :func:`update_rollups` recomputes only the buckets that intersect the time ranges where base
  tables changed (an :class:`~nemdash.store.ingest.IngestReport` ``changed``), plus whatever the
  manifest shows was published since the rollups were last brought up to date (state key
  :data:`BASE_VERSION_KEY`): a process killed between a data publish and its rollup publish
  leaves nothing behind. Call it after each publish and before ``maybe_compact``.
* A new DUID registry changes regions, fuels and capacities of past buckets, so the ``unit`` and
  ``fuel`` rollups are rebuilt whole: :func:`rebuild_registry_rollups` does it, and
  :func:`update_rollups` does it by itself when the registry file differs from the one the
  rollups were built with (state key :data:`REGISTRY_VERSION_KEY`).
* :func:`rebuild_rollups` recomputes everything month partition by month partition (bounded
  memory, one publish each, progress reported), replacing each partition's files, so that rows no
  longer produced (a unit that moved to another fuel) disappear. Stopped half way, it leaves every
  partition either old or new; run it again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nemdash import nemtime
from nemdash.errors import StoreError
from nemdash.store.lake import Lake, LakeFile, LakeWriter, Snapshot
from nemdash.store.registry import REGISTRY_SCHEMA, REGISTRY_TABLE
from nemdash.store.rollup_specs import (
    EXPECTED_5MIN,
    EXPECTED_30MIN,
    FAMILIES,
    GRAINS,
    ROLLUP_TABLES,
    ROOFTOP_FUEL,
    UNKNOWN,
    RollupSpec,
)
from nemdash.store.sql import parquet_relation
from nemdash.tables import FIVE_MINUTE_SETTLEMENT_START, REGIONS, TABLES

if TYPE_CHECKING:
    from nemdash.query.connection import Database

__all__ = [
    "BASE_VERSION_KEY",
    "REGISTRY_FAMILIES",
    "REGISTRY_VERSION_KEY",
    "ProgressCallback",
    "RollupReport",
    "bucket_end",
    "compute_rollup",
    "rebuild_registry_rollups",
    "rebuild_rollups",
    "update_rollups",
]

log = logging.getLogger(__name__)

#: State key: the store version whose AEMO tables the rollups fully reflect.
BASE_VERSION_KEY: Final = "rollups.base_version"
#: State key: the ``added_version`` of the registry file the unit and fuel rollups used (0: none).
REGISTRY_VERSION_KEY: Final = "rollups.registry_version"
#: State key: the rollup tables built so far (comma-separated), so that a table added by a newer
#: nemdash is built from the lake by the next update.
TABLES_KEY: Final = "rollups.tables"
#: The tables of stores written before :data:`TABLES_KEY` existed.
_TABLES_BEFORE_KEY: Final = frozenset(n for n in ROLLUP_TABLES if not n.endswith("_5m"))
#: Families that depend on the DUID registry (rebuilt whole when it changes).
REGISTRY_FAMILIES: Final = ("unit", "fuel")

#: ``progress(done, total, partition)``, called after each partition a rebuild publishes.
ProgressCallback = Callable[[int, int, str], None]

_FIVE_MINUTE_HOURS: Final = 5 / 60
_HALF_HOUR_HOURS: Final = 0.5
#: Tables the rollups' prices come from.
_PRICE_TABLES: Final = ("trading_price", "dispatch_price")
#: A half hour (rooftop PV values are half-hourly).
_HALF_HOUR: Final = timedelta(minutes=30)


@dataclass(frozen=True)
class RollupReport:
    """What one update or rebuild did."""

    versions: tuple[int, ...]
    """Store versions published (none when nothing needed recomputing)."""
    rows: Mapping[str, int]
    """Rows computed per rollup table (recomputed buckets, changed or not)."""
    written: Mapping[str, int]
    """Rows actually written per rollup table (new buckets or changed values)."""
    partitions: int
    """Month partitions touched."""
    rebuilt: tuple[str, ...]
    """Families rebuilt whole (a rebuild, or a registry change seen by an update)."""
    elapsed: float


# -- buckets ---------------------------------------------------------------------------------------


def bucket_end(value: datetime, grain: str) -> datetime:
    """The end of the ``grain`` bucket holding the interval ending ``value`` (period-ending).

    ``30m``: 14:05 .. 14:30 -> 14:30. ``day``: 00:05 .. 24:00 -> the next midnight.
    """
    minutes = int(GRAINS[grain].total_seconds() // 60)
    return nemtime.interval_ending(value, minutes)


def _month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(value: datetime) -> datetime:
    start = _month_start(value)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def _partition(value: datetime) -> str:
    return f"month={value:%Y-%m}"


def _split_by_month(
    first: datetime, last: datetime, step: timedelta
) -> Iterable[tuple[str, datetime, datetime]]:
    """(partition, first, last) pieces of a range of bucket ends, one per month partition."""
    start = first
    while start <= last:
        end = min(last, _next_month(start) - step)
        yield _partition(start), start, end
        start = end + step


def _reach(spec: RollupSpec, table: str) -> timedelta:
    """How far before a changed row's time the buckets it feeds may end (see ``_sql``).

    A 5-minute fleet row carries the rooftop PV value of the half hour it is in, and before
    5-minute settlement its price is that half hour's: a changed half hour ending 14:30 changes
    the intervals ending 14:05 .. 14:30.
    """
    if spec.grain == "5m" and table in ("rooftop_pv", *_PRICE_TABLES):
        return _HALF_HOUR - GRAINS["5m"]
    return timedelta(0)


def _merge_ranges(
    ranges: Iterable[tuple[datetime, datetime]], step: timedelta
) -> list[tuple[datetime, datetime]]:
    """Ranges of bucket ends, sorted, with overlapping or adjacent ones merged."""
    merged: list[tuple[datetime, datetime]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + step:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


# -- SQL ---------------------------------------------------------------------------------------


def _b30(x: str) -> str:
    return f"(time_bucket(INTERVAL 30 MINUTE, {x} - INTERVAL 1 MICROSECOND) + INTERVAL 30 MINUTE)"


def _bday(x: str) -> str:
    return f"(date_trunc('day', {x} - INTERVAL 1 MICROSECOND) + INTERVAL 1 DAY)"


def _price_time(x: str) -> str:
    """The trading interval whose price settles the 5-minute interval ending ``x``."""
    return f"(CASE WHEN {x} < $boundary THEN {_b30(x)} ELSE {x} END)"


_PRICE_CTES = """
tp AS (
    SELECT settlementdate AS pt, regionid, rrp FROM {trading_price}
    WHERE settlementdate > {price_lo} AND settlementdate <= {price_hi} AND rrp IS NOT NULL
),
dp AS (
    SELECT {dp_time} AS pt, regionid, avg(rrp) AS rrp FROM {dispatch_price}
    WHERE intervention = 0 AND settlementdate > {price_lo} AND settlementdate <= {price_hi}
      AND rrp IS NOT NULL
    GROUP BY 1, 2
),
price AS (
    SELECT coalesce(tp.pt, dp.pt) AS pt, coalesce(tp.regionid, dp.regionid) AS regionid,
           coalesce(tp.rrp, dp.rrp) AS rrp
    FROM tp FULL OUTER JOIN dp ON tp.pt = dp.pt AND tp.regionid = dp.regionid
)"""

_SCADA_CTE = """
s AS (
    SELECT settlementdate AS t, duid, scadavalue FROM {unit_scada}
    WHERE settlementdate > $lo AND settlementdate <= $hi
)"""

#: Rooftop PV's half-hourly values as rows of the fleet (``t``, ``regionid``, ``mw``, ``rrp``...).
_ROOF = """
roof AS (
    SELECT interval_datetime AS h, regionid,
        arg_min(power, CASE type WHEN 'MEASUREMENT' THEN 0 WHEN 'SATELLITE' THEN 1 ELSE 2 END)
            AS mw
    FROM {rooftop_pv}
    WHERE interval_datetime > $lo AND interval_datetime <= {roof_high} AND power IS NOT NULL
      AND list_contains($regions, regionid)
    GROUP BY 1, 2
)"""
_ROOFTOP_COLUMNS = """$rooftop_fuel AS fuel, {hours} AS hours, $rooftop_expected AS expected, r.mw,
        greatest(r.mw, 0) AS mw_pos, least(r.mw, 0) AS mw_neg,
        r.mw * r.rrp AS mw_rrp, greatest(r.mw, 0) * r.rrp AS mw_pos_rrp,
        least(r.mw, 0) * r.rrp AS mw_neg_rrp,
        CAST(NULL AS DOUBLE) AS capacity, CAST(NULL AS DOUBLE) AS running_capacity"""
#: At the 30-minute and daily grains: each half hour once, priced at the half hour's mean price.
_ROOFTOP_HALF_HOURS = (
    _ROOF
    + """,
half_hour_price AS (SELECT {pt_half_hour} AS h, regionid, avg(rrp) AS rrp FROM price GROUP BY 1, 2),
rooftop AS (
    SELECT r.t, r.regionid, """
    + _ROOFTOP_COLUMNS.format(hours="$rooftop_hours")
    + """
    FROM (
        SELECT roof.h AS t, roof.regionid, roof.mw, hp.rrp
        FROM roof LEFT JOIN half_hour_price hp ON hp.h = roof.h AND hp.regionid = roof.regionid
    ) r
)"""
)
#: At the 5-minute grain: each 5-minute interval carries its half hour's value (the half hour
#: ending 14:30 for the intervals ending 14:05 .. 14:30), priced at the interval's own price.
_ROOFTOP_INTERVALS = (
    _ROOF
    + """,
roof5 AS (
    SELECT unnest(generate_series(h - INTERVAL 25 MINUTE, h, INTERVAL 5 MINUTE)) AS t, regionid, mw
    FROM roof
),
rooftop AS (
    SELECT r.t, r.regionid, """
    + _ROOFTOP_COLUMNS.format(hours="$hours")
    + """
    FROM (
        SELECT roof5.t, roof5.regionid, roof5.mw, price.rrp
        FROM roof5 LEFT JOIN price
          ON price.regionid = roof5.regionid AND price.pt = {roof_time}
        WHERE roof5.t > $lo AND roof5.t <= $hi
    ) r
)"""
)

_SQL: Final[dict[str, str]] = {
    "price": """
WITH p AS (
    SELECT settlementdate AS t, regionid, rrp FROM {dispatch_price}
    WHERE intervention = 0 AND settlementdate > $lo AND settlementdate <= $hi
),
d AS (
    SELECT settlementdate AS t, regionid, totaldemand FROM {dispatch_regionsum}
    WHERE intervention = 0 AND settlementdate > $lo AND settlementdate <= $hi
),
j AS (
    SELECT coalesce(p.t, d.t) AS t, coalesce(p.regionid, d.regionid) AS regionid,
           p.rrp, d.totaldemand
    FROM p FULL OUTER JOIN d ON p.t = d.t AND p.regionid = d.regionid
)
SELECT {bucket} AS bucket_end, regionid, $expected AS expected,
    sum(rrp) AS rrp_sum, count(rrp) AS rrp_count, min(rrp) AS rrp_min, max(rrp) AS rrp_max,
    sum(rrp * rrp) AS rrp_sumsq,
    count(*) FILTER (WHERE rrp < 0) AS rrp_negative_count,
    count(*) FILTER (WHERE rrp > 300) AS rrp_above_300_count,
    count(*) FILTER (WHERE rrp > 1000) AS rrp_above_1000_count,
    sum(totaldemand) AS totaldemand_sum, count(totaldemand) AS totaldemand_count,
    min(totaldemand) AS totaldemand_min, max(totaldemand) AS totaldemand_max,
    sum(rrp * totaldemand) AS rrp_x_totaldemand_sum,
    sum(totaldemand) FILTER (WHERE rrp IS NOT NULL) AS priced_totaldemand_sum
FROM j GROUP BY 1, 2""",
    "unit": """
WITH {scada},
reg AS (SELECT duid, region FROM {duid_registry}),
{prices},
u AS (
    SELECT s.t, s.duid, s.scadavalue, reg.region, price.rrp
    FROM s
    LEFT JOIN reg ON reg.duid = s.duid
    LEFT JOIN price ON price.regionid = reg.region AND price.pt = {s_time}
)
SELECT {bucket} AS bucket_end, duid, $expected AS expected, max(region) AS regionid,
    sum(scadavalue) AS scadavalue_sum, count(scadavalue) AS scadavalue_count,
    min(scadavalue) AS scadavalue_min, max(scadavalue) AS scadavalue_max,
    sum(scadavalue * $hours) AS energy_mwh,
    count(*) FILTER (WHERE scadavalue > 0) AS running_count,
    sum(scadavalue * $hours * rrp) AS revenue,
    count(scadavalue * rrp) AS revenue_count
FROM u GROUP BY 1, 2""",
    "fuel": """
WITH {scada},
reg AS (
    SELECT duid, region, fuel, registered_capacity_mw, is_aggregate, dispatch_type
    FROM {duid_registry}
),
{prices},
u AS (
    SELECT s.t, coalesce(reg.region, $unknown) AS regionid, coalesce(reg.fuel, $unknown) AS fuel,
           -- A scheduled load (a pumped-hydro pump) reports the MW it draws as positive SCADA:
           -- in the fleet's output it counts as negative, like a battery charging.
           CASE WHEN reg.dispatch_type = 'load' THEN -s.scadavalue ELSE s.scadavalue END AS mw,
           reg.registered_capacity_mw AS capacity, price.rrp
    FROM s
    LEFT JOIN reg ON reg.duid = s.duid
    LEFT JOIN price ON price.regionid = reg.region AND price.pt = {s_time}
    WHERE s.scadavalue IS NOT NULL AND NOT coalesce(reg.is_aggregate, false)
),
fleet AS (
    SELECT t, regionid, fuel, $hours AS hours, $expected AS expected,
        sum(mw) AS mw, sum(greatest(mw, 0)) AS mw_pos, sum(least(mw, 0)) AS mw_neg,
        sum(mw * rrp) AS mw_rrp, sum(greatest(mw, 0) * rrp) AS mw_pos_rrp,
        sum(least(mw, 0) * rrp) AS mw_neg_rrp,
        sum(capacity) AS capacity, sum(capacity) FILTER (WHERE mw > 0) AS running_capacity
    FROM u GROUP BY 1, 2, 3
),
{rooftop},
combined AS (SELECT * FROM fleet UNION ALL BY NAME SELECT * FROM rooftop)
SELECT {bucket} AS bucket_end, regionid, fuel, max(expected) AS expected,
    sum(mw) AS mw_sum, count(mw) AS mw_count, min(mw) AS mw_min, max(mw) AS mw_max,
    sum(mw_pos) AS mw_pos_sum, min(mw_pos) AS mw_pos_min, max(mw_pos) AS mw_pos_max,
    sum(mw_neg) AS mw_neg_sum, min(mw_neg) AS mw_neg_min, max(mw_neg) AS mw_neg_max,
    sum(mw * hours) AS energy_mwh, sum(mw_pos * hours) AS energy_pos_mwh,
    sum(mw_neg * hours) AS energy_neg_mwh,
    sum(mw_rrp * hours) AS revenue, sum(mw_pos_rrp * hours) AS revenue_pos,
    sum(mw_neg_rrp * hours) AS revenue_neg,
    sum(capacity) AS capacity_mw_sum, max(capacity) AS capacity_mw_max,
    sum(running_capacity) AS running_capacity_mw_sum
FROM combined GROUP BY 1, 2, 3""",
    "interconnector": """
WITH f AS (
    SELECT settlementdate AS t, interconnectorid, meteredmwflow, mwflow, exportlimit, importlimit
    FROM {interconnector_flow}
    WHERE intervention = 0 AND settlementdate > $lo AND settlementdate <= $hi
)
SELECT {bucket} AS bucket_end, interconnectorid, $expected AS expected,
    sum(meteredmwflow) AS meteredmwflow_sum, count(meteredmwflow) AS meteredmwflow_count,
    min(meteredmwflow) AS meteredmwflow_min, max(meteredmwflow) AS meteredmwflow_max,
    sum(mwflow) AS mwflow_sum, count(mwflow) AS mwflow_count,
    min(mwflow) AS mwflow_min, max(mwflow) AS mwflow_max,
    sum(exportlimit) AS exportlimit_sum, count(exportlimit) AS exportlimit_count,
    min(exportlimit) AS exportlimit_min, max(exportlimit) AS exportlimit_max,
    sum(importlimit) AS importlimit_sum, count(importlimit) AS importlimit_count,
    min(importlimit) AS importlimit_min, max(importlimit) AS importlimit_max
FROM f GROUP BY 1, 2""",
}


def _overlaps(f: LakeFile, low: datetime, high: datetime) -> bool:
    """Whether a file may hold times in (low, high] (whole-table files always may)."""
    if f.min_time is None or f.max_time is None:
        return True
    return f.max_time > low and f.min_time <= high


def _relation(snapshot: Snapshot, table: str, low: datetime, high: datetime) -> str:
    """A subquery over the table's live files that may hold times in (low, high]."""
    schema = REGISTRY_SCHEMA if table == REGISTRY_TABLE else TABLES[table].arrow_schema
    files = [str(f.path) for f in snapshot.for_table(table) if _overlaps(f, low, high)]
    return parquet_relation(files, schema)


def _sql(spec: RollupSpec, snapshot: Snapshot, low: datetime, high: datetime) -> str:
    """The query computing ``spec``'s buckets from base rows with times in (low, high]."""
    five_minute = spec.grain == "5m"
    # A 5-minute bucket before 5-minute settlement is priced by its half hour, which may start
    # up to 25 minutes before the bucket and end up to 25 minutes after it (and so may the
    # rooftop PV half hour it carries): the price and rooftop rows are read half an hour wider.
    # The 30-minute and daily buckets hold whole half hours already.
    wide = _HALF_HOUR if five_minute else timedelta(0)
    relations = {
        name: _relation(snapshot, name, low - wide, high + wide)
        if name in (*_PRICE_TABLES, "rooftop_pv")
        else _relation(snapshot, name, low, high)
        for name in (*spec.inputs, "dispatch_price")
    }
    prices = _PRICE_CTES.format(
        dp_time=_price_time("settlementdate"),
        trading_price=relations.get("trading_price", ""),
        dispatch_price=relations["dispatch_price"],
        price_lo="$lo - INTERVAL 30 MINUTE" if five_minute else "$lo",
        price_hi="$hi + INTERVAL 30 MINUTE" if five_minute else "$hi",
    )
    bucket = {"5m": "t", "30m": _b30("t"), "day": _bday("t")}[spec.grain]
    rooftop = (_ROOFTOP_INTERVALS if five_minute else _ROOFTOP_HALF_HOURS).format(
        rooftop_pv=relations.get("rooftop_pv", ""),
        roof_high="$hi + INTERVAL 30 MINUTE" if five_minute else "$hi",
        pt_half_hour=_b30("pt"),
        roof_time=_price_time("roof5.t"),
    )
    inner = _SQL[spec.family].format(
        bucket=bucket,
        scada=_SCADA_CTE.format(unit_scada=relations.get("unit_scada", "")),
        prices=prices,
        s_time=_price_time("s.t"),
        rooftop=rooftop,
        **relations,
    )
    keys = ", ".join(spec.primary_key)
    if spec.grain == "day":
        return (
            "SELECT bucket_end, CAST(bucket_end - INTERVAL 1 DAY AS DATE) AS day, "
            f"* EXCLUDE (bucket_end) FROM ({inner}) ORDER BY {keys}"
        )
    return f"SELECT * FROM ({inner}) ORDER BY {keys}"


def _conform(table: pa.Table, spec: RollupSpec) -> pa.Table:
    """DuckDB's result with exactly the spec's Arrow schema (column order and types)."""
    schema = spec.arrow_schema
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def compute_rollup(
    con: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    spec: RollupSpec,
    first: datetime,
    last: datetime,
) -> pa.Table:
    """Rows of ``spec`` for the buckets ending ``first`` .. ``last`` (naive NEM time, on the
    grain), computed from the files of ``snapshot``; buckets without data have no row."""
    step = GRAINS[spec.grain]
    low, high = first - step, last
    sql = _sql(spec, snapshot, low, high)
    values: dict[str, Any] = {
        "lo": low,
        "hi": high,
        "boundary": FIVE_MINUTE_SETTLEMENT_START,
        "expected": EXPECTED_5MIN[spec.grain],
        "rooftop_expected": EXPECTED_30MIN[spec.grain],
        "hours": _FIVE_MINUTE_HOURS,
        "rooftop_hours": _HALF_HOUR_HOURS,
        "rooftop_fuel": ROOFTOP_FUEL,
        "unknown": UNKNOWN,
        "regions": list(REGIONS),
    }
    params = {k: v for k, v in values.items() if f"${k}" in sql}
    try:
        result = con.sql(sql, params=params).to_arrow_table()
    except duckdb.Error as exc:
        raise StoreError(
            f"computing {spec.name} for buckets ending {first} .. {last} failed: "
            f"{str(exc).strip()}; the lake files may be damaged (check `nemdash status`)"
        ) from exc
    return _conform(result, spec)


# -- plumbing --------------------------------------------------------------------------------------


class _Engine:
    """A DuckDB handle: the process's :class:`Database` cursor, or a private connection."""

    def __init__(self, writer: LakeWriter, db_or_lake: Database | Lake | None) -> None:
        self._own: duckdb.DuckDBPyConnection | None = None
        if db_or_lake is None or isinstance(db_or_lake, Lake):
            lake = db_or_lake if db_or_lake is not None else writer.lake
            self._own = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "2GB"})
            self.con = self._own
        else:
            lake = db_or_lake.lake
            self.con = db_or_lake.cursor()
        if lake.paths.root != writer.lake.paths.root:
            raise StoreError(
                f"rollups read {lake.paths.root} but the writer writes {writer.lake.paths.root}: "
                "pass the Database or Lake of the data directory being written"
            )

    def close(self) -> None:
        if self._own is not None:
            self._own.close()


def _naive(value: datetime) -> datetime:
    return nemtime.to_naive(value) if value.tzinfo is not None else value


def _families(families: Collection[str] | None) -> tuple[str, ...]:
    chosen = tuple(FAMILIES) if families is None else tuple(families)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise StoreError(f"unknown rollup families {unknown}; known: {', '.join(FAMILIES)}")
    return tuple(f for f in FAMILIES if f in chosen)


def _registry_version(snapshot: Snapshot) -> int:
    """The ``added_version`` of the live registry file (0 when there is none)."""
    return max((f.added_version for f in snapshot.for_table(REGISTRY_TABLE)), default=0)


def _state_int(lake: Lake, key: str) -> int | None:
    text = lake.get_state(key)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise StoreError(
            f"state {key} of {lake.paths.state_db} is {text!r}, not a version number; "
            "run `nemdash rollup --rebuild` to rebuild the rollups and reset it"
        ) from None


def _pending(lake: Lake, snapshot: Snapshot, since: int) -> dict[str, tuple[datetime, datetime]]:
    """Time ranges of AEMO-table files published after version ``since`` (compactions aside:
    they move rows without changing them)."""
    newer = snapshot.version - since
    compactions = (
        {v.version for v in lake.versions(limit=newer) if v.kind == "compact"}
        if newer > 0
        else set()
    )
    ranges: dict[str, tuple[datetime, datetime]] = {}
    for f in snapshot.files:
        if f.table not in TABLES or f.added_version <= since or f.added_version in compactions:
            continue
        if f.min_time is None or f.max_time is None:
            continue
        low, high = f.min_time, f.max_time
        if f.table in ranges:
            low, high = min(low, ranges[f.table][0]), max(high, ranges[f.table][1])
        ranges[f.table] = (low, high)
    return ranges


def _publish(
    writer: LakeWriter,
    data: Mapping[str, Sequence[pa.Table]],
    *,
    replace: Collection[tuple[str, str]] = (),
    state: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, int]]:
    result = writer.publish(data, (), state=state, replace=replace)
    return result.version, {k: v for k, v in result.rows.items() if v}


# -- rebuild ---------------------------------------------------------------------------------------


def _rebuild_plan(snapshot: Snapshot, specs: Sequence[RollupSpec]) -> dict[str, list[RollupSpec]]:
    """Month partitions to (re)write and the rollups each holds: where base data or an old
    rollup partition is."""
    plan: dict[str, set[str]] = defaultdict(set)
    for spec in specs:
        for f in snapshot.for_table(spec.name):
            plan[f.partition].add(spec.name)
        step = GRAINS[spec.grain]
        for f in snapshot.files:
            if f.table not in spec.inputs or f.table not in TABLES:
                continue
            if f.min_time is None or f.max_time is None:
                continue
            first, last = bucket_end(f.min_time, spec.grain), bucket_end(f.max_time, spec.grain)
            for partition, _, _ in _split_by_month(first, last, step):
                plan[partition].add(spec.name)
    return {p: [ROLLUP_TABLES[n] for n in sorted(names)] for p, names in sorted(plan.items())}


def _newest_buckets(snapshot: Snapshot, specs: Sequence[RollupSpec]) -> dict[str, datetime]:
    """Per rollup, the end of its newest bucket: the one holding the latest base interval."""
    newest: dict[str, datetime] = {}
    for spec in specs:
        ends = [
            f.max_time
            for f in snapshot.files
            if f.table in spec.inputs and f.table in TABLES and f.max_time is not None
        ]
        if ends:
            newest[spec.name] = bucket_end(max(ends), spec.grain)
    return newest


def _split_tail(table: pa.Table, newest: datetime | None) -> tuple[pa.Table, pa.Table]:
    """The rows before the newest bucket, and the newest bucket's rows."""
    if newest is None or table.num_rows == 0:
        return table, table.slice(0, 0)
    before = pc.less(table.column("bucket_end"), pa.scalar(newest, pa.timestamp("us")))
    return table.filter(before), table.filter(pc.invert(before))


def _partition_bounds(partition: str, spec: RollupSpec) -> tuple[datetime, datetime]:
    """First and last bucket end a month partition holds at the spec's grain."""
    start = datetime.strptime(partition, "month=%Y-%m")
    return start, _next_month(start) - GRAINS[spec.grain]


def rebuild_rollups(
    writer: LakeWriter,
    db_or_lake: Database | Lake | None = None,
    *,
    families: Collection[str] | None = None,
    tables: Collection[str] | None = None,
    progress: ProgressCallback | None = None,
) -> RollupReport:
    """Recompute the rollups of ``families`` (default all), or only ``tables``, from the lake.

    One publish per month partition, each replacing the partition's files, so memory stays
    bounded by a month of data; ``progress(done, total, partition)`` after each. The last
    publish records the state keys (see the module docstring); a rebuild stopped half way leaves
    them as they were, so the next update or rebuild redoes what is needed.
    """
    started = time.perf_counter()
    if tables is not None:
        unknown = sorted(set(tables) - set(ROLLUP_TABLES))
        if unknown:
            raise StoreError(f"unknown rollup tables {unknown}; known: {', '.join(ROLLUP_TABLES)}")
        chosen: tuple[str, ...] = ()  # no family whole: the registry and base states stay
    else:
        chosen = _families(families)
    engine = _Engine(writer, db_or_lake)
    try:
        snapshot = writer.lake.snapshot()
        specs = [
            s
            for s in ROLLUP_TABLES.values()
            if (s.name in tables if tables is not None else s.family in chosen)
        ]
        plan = _rebuild_plan(snapshot, specs)
        state: dict[str, str] = {
            TABLES_KEY: ",".join(sorted(built_tables(writer.lake) | {s.name for s in specs}))
        }
        if set(chosen) >= set(REGISTRY_FAMILIES):
            state[REGISTRY_VERSION_KEY] = str(_registry_version(snapshot))
        if set(chosen) == set(FAMILIES):
            state[BASE_VERSION_KEY] = str(snapshot.version)
        newest = _newest_buckets(snapshot, specs)
        versions: list[int] = []
        rows: dict[str, int] = defaultdict(int)
        written: dict[str, int] = defaultdict(int)
        for done, (partition, in_partition) in enumerate(plan.items(), start=1):
            data: dict[str, list[pa.Table]] = {}
            tails: dict[str, list[pa.Table]] = {}
            for spec in in_partition:
                first, last = _partition_bounds(partition, spec)
                table = compute_rollup(engine.con, snapshot, spec, first, last)
                rows[spec.name] += table.num_rows
                head, tail = _split_tail(table, newest.get(spec.name))
                data[spec.name] = [head]
                if tail.num_rows:
                    tails[spec.name] = [tail]
            publishes = [(data, [(s.name, partition) for s in in_partition])]
            if tails:
                # The newest bucket (still filling) goes in a small file of its own, so that the
                # next update rewrites that file, not the month's.
                publishes.append((tails, []))
            for i, (part, replace) in enumerate(publishes, start=1):
                last_publish = done == len(plan) and i == len(publishes)
                version, new = _publish(
                    writer, part, replace=replace, state=state if last_publish else None
                )
                versions.append(version)
                for name, n in new.items():
                    written[name] += n
            log.info("rebuilt rollups of %s (version %d)", partition, versions[-1])
            if progress is not None:
                progress(done, len(plan), partition)
        if not plan and state:
            for key, value in state.items():
                writer.set_state(key, value)
    finally:
        engine.close()
    return RollupReport(
        tuple(versions), dict(rows), dict(written), len(plan), chosen, time.perf_counter() - started
    )


def missing_tables(lake: Lake) -> list[str]:
    """Rollup tables this nemdash has and this lake never built (the next update builds them)."""
    if _state_int(lake, BASE_VERSION_KEY) is None:
        return []  # never built at all: the next update rebuilds everything anyway
    return sorted(set(ROLLUP_TABLES) - built_tables(lake))


def built_tables(lake: Lake) -> frozenset[str]:
    """The rollup tables built at least once in this lake (see :data:`TABLES_KEY`)."""
    text = lake.get_state(TABLES_KEY)
    if text is None:
        return _TABLES_BEFORE_KEY if _state_int(lake, BASE_VERSION_KEY) is not None else frozenset()
    return frozenset(n for n in text.split(",") if n)


def rebuild_registry_rollups(
    writer: LakeWriter,
    db_or_lake: Database | Lake | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> RollupReport:
    """Rebuild the unit and fuel rollups: call it after ``nemdash registry update``.

    Regions, fuels and capacities come from the registry, so a new registry changes past buckets
    (and may move a unit to another fuel row, which only a rebuild removes).
    """
    return rebuild_rollups(writer, db_or_lake, families=REGISTRY_FAMILIES, progress=progress)


# -- incremental -----------------------------------------------------------------------------------


def update_rollups(
    writer: LakeWriter,
    db_or_lake: Database | Lake | None,
    changed: Mapping[str, tuple[datetime, datetime]],
    *,
    max_months_per_publish: int = 3,
    progress: ProgressCallback | None = None,
) -> RollupReport:
    """Recompute the rollup buckets that intersect the changed time ranges, in one publish.

    ``changed`` maps a base table (``unit_scada``...) to the first and last time of the rows
    just published (``IngestReport.changed``); files published since the rollups were last
    brought up to date are added from the manifest. ``duid_registry`` in ``changed``, or a
    registry file newer than the one the rollups used, rebuilds the unit and fuel rollups whole.
    With no rollup state at all (never built) everything is rebuilt. A change spanning more than
    ``max_months_per_publish`` month partitions is published one partition at a time.
    """
    started = time.perf_counter()
    lake = writer.lake
    for name in changed:
        if name not in TABLES and name != REGISTRY_TABLE:
            raise StoreError(
                f"update_rollups() got a change in {name!r}, which is not a lake table "
                f"({', '.join([*TABLES, REGISTRY_TABLE])})"
            )
    base = _state_int(lake, BASE_VERSION_KEY)
    snapshot = lake.snapshot()
    if base is None or base > snapshot.version:
        log.info("rollups have no valid state in %s: rebuilding them all", lake.paths.state_db)
        return rebuild_rollups(writer, db_or_lake, progress=progress)

    rebuilt: tuple[str, ...] = ()
    versions: list[int] = []
    rows: dict[str, int] = defaultdict(int)
    written: dict[str, int] = defaultdict(int)
    missing = missing_tables(lake)
    if missing:
        log.info("rollup tables %s were never built here: building them from the lake", missing)
        report = rebuild_rollups(writer, db_or_lake, tables=missing, progress=progress)
        versions.extend(report.versions)
        rows.update(report.rows)
        written.update(report.written)
        snapshot = lake.snapshot()
    registry_now = _registry_version(snapshot)
    registry_used = _state_int(lake, REGISTRY_VERSION_KEY) or 0
    if REGISTRY_TABLE in changed or registry_now != registry_used:
        log.info("the DUID registry changed: rebuilding the unit and fuel rollups")
        report = rebuild_registry_rollups(writer, db_or_lake, progress=progress)
        rebuilt = report.rebuilt
        versions.extend(report.versions)
        rows.update(report.rows)
        written.update(report.written)

    ranges: dict[str, tuple[datetime, datetime]] = {}
    for name, (low, high) in [*changed.items(), *_pending(lake, snapshot, base).items()]:
        if name == REGISTRY_TABLE:
            continue
        low, high = _naive(low), _naive(high)
        if high < low:
            raise StoreError(f"update_rollups(): the change in {name} ends before it starts")
        if name in ranges:
            low, high = min(low, ranges[name][0]), max(high, ranges[name][1])
        ranges[name] = (low, high)

    # Per partition, per rollup table: the ranges of bucket ends to recompute.
    work: dict[str, dict[str, list[tuple[datetime, datetime]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for spec in ROLLUP_TABLES.values():
        if spec.family in rebuilt:
            continue
        step = GRAINS[spec.grain]
        spans = [
            (bucket_end(low - _reach(spec, name), spec.grain), bucket_end(high, spec.grain))
            for name, (low, high) in ranges.items()
            if name in spec.inputs
        ]
        for first, last in _merge_ranges(spans, step):
            for partition, a, b in _split_by_month(first, last, step):
                work[partition][spec.name].append((a, b))

    state = {BASE_VERSION_KEY: str(snapshot.version)}
    if rebuilt:
        state[REGISTRY_VERSION_KEY] = str(registry_now)
    engine = _Engine(writer, db_or_lake)
    try:
        partitions = sorted(work)
        # Nothing pending: no publish at all (a new version would needlessly change cache keys).
        groups = (
            []
            if not partitions
            else [partitions]
            if len(partitions) <= max(1, max_months_per_publish)
            else [[p] for p in partitions]
        )
        for i, group in enumerate(groups, start=1):
            data: dict[str, list[pa.Table]] = defaultdict(list)
            for partition in group:
                for name, spans in work[partition].items():
                    for first, last in spans:
                        table = compute_rollup(
                            engine.con, snapshot, ROLLUP_TABLES[name], first, last
                        )
                        data[name].append(table)
                        rows[name] += table.num_rows
            version, new = _publish(writer, data, state=state if i == len(groups) else None)
            versions.append(version)
            for name, n in new.items():
                written[name] += n
        if not groups and lake.get_state(BASE_VERSION_KEY) != state[BASE_VERSION_KEY]:
            for key, value in state.items():
                writer.set_state(key, value)
    finally:
        engine.close()
    elapsed = time.perf_counter() - started
    log.info(
        "rollups updated in %.3f s: %d partitions, rows written %s",
        elapsed,
        len(work),
        dict(written) or "none",
    )
    return RollupReport(tuple(versions), dict(rows), dict(written), len(work), rebuilt, elapsed)
