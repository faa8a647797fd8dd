"""What the query functions share: regions, fuels, ranges, and how a range maps to stored data.

Every typed query function (``prices``, ``generation``, ``interconnectors``, ``stations``,
``analysis``) checks its parameters here and plans its reads here, so that they all follow one set
of rules:

* **Regions** are the five NEM regions of :data:`nemdash.tables.REGIONS`, or ``"NEM"`` (the whole
  market) where a function says so. **Fuels** are the DUID registry's taxonomy
  (:data:`nemdash.nemweb.registry_sources.FUELS`) plus ``rooftop_solar`` and ``unknown`` (units the
  registry does not know). A bad value raises :class:`~nemdash.errors.QueryError` naming it and
  what is allowed.
* **Ranges** are ``(start, end]``, period-ending, given as timezone-aware datetimes (any zone; they
  are converted to NEM time, UTC+10, with :mod:`nemdash.nemtime`). Naive datetimes are refused:
  they would mean different things in different places. Inside, and in every result, times are
  naive ``TIMESTAMP`` values whose wall clock is NEM time (``interval_end`` or ``bucket_end``).
* **Series** (:func:`plan_series`): :func:`~nemdash.query.resolution.choose_resolution` picks the
  resolution from the range and the point budget; 5-minute points read the 5-minute lake tables over
  exactly ``(start, end]``; coarser points read the 30-minute rollups (``30m``, ``1h``) or the daily
  rollups (``day``, ``month``, ``quarter``, ``year``), taking each bucket whole, so the series
  covers the buckets that hold an interval of the range. Each bucket aggregates the rollups'
  sums and counts (an average is ``sum / count``, never an average of averages) and carries
  ``completeness`` = intervals present / intervals the whole bucket should hold.
* **Summaries** over a range (:func:`plan_window`) read rollups only: the range is widened to
  whole half hours (the half hours holding its first and last interval), then read as 30-minute
  buckets at its ragged ends and daily buckets in between, so that five years cost ~1,800 daily
  rows per key instead of 525,600 five-minute ones. The effective range is reported.
* **Files**: every table is read through :func:`scan`, which names only the Parquet files whose
  time span (from the manifest) meets the range, so a day's query opens a file or two, not the
  five years of month files behind a view.

The module also answers the metadata questions themselves: :func:`regions`, :func:`fuels` and
:func:`coverage_and_freshness` (per table: rows, first and last interval, lag behind now, store
version, from the lake's manifest without scanning data).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

import pyarrow as pa

from nemdash import nemtime
from nemdash.errors import QueryError
from nemdash.nemweb.registry_sources import FUELS
from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.resolution import (
    DEFAULT_MAX_POINTS,
    Grain,
    Resolution,
    bucket_end,
    bucket_end_sql,
    choose_resolution,
    count_points,
)
from nemdash.store.lake import LakeFile
from nemdash.store.registry import REGISTRY_TABLE
from nemdash.store.rollup_specs import GRAINS, ROLLUP_TABLES, ROOFTOP_FUEL, UNKNOWN, rollup_spec
from nemdash.store.sql import parquet_relation
from nemdash.tables import REGIONS, ROOFTOP_SUBREGIONS, TABLES

log = logging.getLogger(__name__)

#: The whole market, where a function accepts it in place of a region.
NEM: Final = "NEM"
#: Names of the regions (AEMO's region ids are kept as the identifiers).
REGION_NAMES: Final[Mapping[str, str]] = {
    "NSW1": "New South Wales",
    "QLD1": "Queensland",
    "SA1": "South Australia",
    "TAS1": "Tasmania",
    "VIC1": "Victoria",
}
#: Every fuel a query may name: the registry taxonomy, rooftop PV, and units the registry lacks.
ALL_FUELS: Final[tuple[str, ...]] = (*FUELS, ROOFTOP_FUEL, UNKNOWN)
#: Fuels counted as renewable (NEM-FACTS: wind + solar + rooftop + hydro + biomass). Pumped hydro
#: is hydro: its generation counts, its pumping is not subtracted.
RENEWABLE_FUELS: Final[tuple[str, ...]] = (
    "wind",
    "solar_utility",
    ROOFTOP_FUEL,
    "hydro",
    "pumped_hydro",
    "biomass",
)
#: Fuels that are neither renewable nor part of total generation: batteries only store energy.
STORAGE_FUELS: Final[tuple[str, ...]] = ("battery",)
#: Series name of the consuming part of a fuel that both generates and consumes.
CONSUMING_SERIES: Final[Mapping[str, str]] = {
    "battery": "battery_charging",
    "pumped_hydro": "pumped_hydro_pumping",
}
FUEL_LABELS: Final[Mapping[str, str]] = {
    "coal_black": "Black coal",
    "coal_brown": "Brown coal",
    "gas_ccgt": "Gas (combined cycle)",
    "gas_ocgt": "Gas (open cycle)",
    "gas_other": "Gas (other)",
    "hydro": "Hydro",
    "pumped_hydro": "Pumped hydro",
    "wind": "Wind",
    "solar_utility": "Utility solar",
    "battery": "Battery",
    "biomass": "Biomass",
    "distillate": "Distillate",
    "other": "Other",
    ROOFTOP_FUEL: "Rooftop solar",
    UNKNOWN: "Unknown (not in the DUID registry)",
}

#: Hours of one 5-minute interval (SCADA MW x this = MWh).
FIVE_MINUTE_HOURS: Final = 5 / 60
FIVE_MINUTE_SECONDS: Final = 300

_HALF_HOUR = timedelta(minutes=30)
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_LITERAL = re.compile(r"'(?:[^']|'')*'")  # quoted text (file paths) holds no parameters
_MONTHS = {Resolution.MONTH: 1, Resolution.QUARTER: 3, Resolution.YEAR: 12}

# -- validation ----------------------------------------------------------------------------------


def check_region(region: str, *, allow_nem: bool = True) -> str:
    """A region id (upper-cased), or ``NEM`` where allowed; QueryError names what is allowed."""
    allowed = (*REGIONS, NEM) if allow_nem else REGIONS
    cleaned = region.strip().upper() if isinstance(region, str) else region
    if cleaned not in allowed:
        hint = ""
        if cleaned in ROOFTOP_SUBREGIONS:
            parent = "QLD1" if cleaned.startswith("Q") else "TAS1"
            hint = f" ({cleaned} is a rooftop PV sub-region, part of {parent})"
        raise QueryError(f"unknown region {region!r}{hint}; use one of {', '.join(allowed)}")
    return cleaned


def check_regions(regions: str | Sequence[str] | None) -> tuple[str, ...]:
    """Regions in the order of :data:`REGIONS`, without repeats; None means all five."""
    if regions is None:
        return REGIONS
    given = [regions] if isinstance(regions, str) else list(regions)
    if not given:
        raise QueryError(f"no region given; use one or more of {', '.join(REGIONS)}")
    chosen = {check_region(r, allow_nem=False) for r in given}
    return tuple(r for r in REGIONS if r in chosen)


def check_fuels(fuels: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Fuels in taxonomy order, without repeats; None means every fuel."""
    if fuels is None:
        return None
    given = [fuels] if isinstance(fuels, str) else list(fuels)
    if not given:
        raise QueryError(f"no fuel given; use one or more of {', '.join(ALL_FUELS)}")
    chosen = set()
    for fuel in given:
        cleaned = fuel.strip().lower() if isinstance(fuel, str) else fuel
        if cleaned not in ALL_FUELS:
            raise QueryError(f"unknown fuel {fuel!r}; use one of {', '.join(ALL_FUELS)}")
        chosen.add(cleaned)
    return tuple(f for f in ALL_FUELS if f in chosen)


def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``(start, end]`` as naive NEM wall-clock values; refuses naive input and empty ranges."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise QueryError(f"{name} must be a datetime, got {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise QueryError(
                f"{name} {value.isoformat()} has no time zone: give an aware datetime "
                "(NEM time is UTC+10, e.g. 2024-03-01T00:00+10:00)"
            )
    low, high = nemtime.to_naive(start), nemtime.to_naive(end)
    if high <= low:
        raise QueryError(
            f"the range is empty: end {nemtime.isoformat(high)} is not after start "
            f"{nemtime.isoformat(low)} (ranges are (start, end], period-ending)"
        )
    return low, high


def check_time(name: str, value: datetime) -> datetime:
    """One aware instant as the naive NEM wall-clock value the lake stores."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise QueryError(
            f"{name} must be an aware datetime (NEM time is UTC+10, e.g. "
            f"2024-03-01T14:05+10:00), got {value!r}"
        )
    return nemtime.to_naive(value)


def check_count(name: str, value: int, low: int, high: int) -> int:
    """An integer parameter within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QueryError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_number(name: str, value: float) -> float:
    """A finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QueryError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def column(name: str, kind: pa.DataType) -> pa.Field[Any]:
    """A result column (typed for mypy: a list of mixed ``pa.field`` types widens to object)."""
    return pa.field(name, kind)


# -- which files a query reads ---------------------------------------------------------------------

#: Tables :func:`scan` can narrow by time: AEMO's tables and the rollups.
_TIMED: Final[Mapping[str, str]] = {
    **{name: spec.time_column for name, spec in TABLES.items()},
    **{name: spec.time_column for name, spec in ROLLUP_TABLES.items()},
}
_listings: weakref.WeakKeyDictionary[Database, tuple[int, dict[str, tuple[LakeFile, ...]]]] = (
    weakref.WeakKeyDictionary()
)
_listings_lock = threading.Lock()


def _live_files(db: Database, table: str) -> tuple[LakeFile, ...]:
    """The files of ``table`` at the current store version (listed once per version).

    The views are refreshed first, as every query does, so the files named and the views (and
    the cache key, which is taken from the latest version) all show the same version.
    """
    version = db.refresh()
    with _listings_lock:
        entry = _listings.get(db)
        if entry is None or entry[0] != version:
            entry = (version, {})
            _listings[db] = entry
        files = entry[1].get(table)
    if files is None:
        files = tuple(db.lake.live_files(table, version=version))
        with _listings_lock:
            entry[1][table] = files
    return files


def time_span(db: Database, table: str) -> tuple[datetime, datetime] | None:
    """First and last time (naive NEM) of a table's rows, from the manifest; None if empty."""
    if table not in _TIMED:
        raise ValueError(f"{table} is not a time-keyed lake table")
    files = [f for f in _live_files(db, table) if f.min_time is not None and f.max_time is not None]
    if not files:
        return None
    return (
        min(f.min_time for f in files if f.min_time is not None),
        max(f.max_time for f in files if f.max_time is not None),
    )


def scan(db: Database, table: str, low: datetime, high: datetime) -> str:
    """A relation over the live files of ``table`` that may hold times in ``(low, high]``.

    The views read every file of a table, and DuckDB opens each file's footer to prune it: with
    a file or two per month that is ~0.2 ms a file on every query, five years of files cost more
    than the rows a short range needs. The manifest knows each file's time span, so only the
    overlapping files are named (the query still filters rows by time). ``table`` comes from a
    fixed allow-list; the paths come from the manifest, quoted.
    """
    if table not in _TIMED:
        raise ValueError(f"{table} is not a time-keyed lake table")
    files = _live_files(db, table)
    chosen = [
        f
        for f in files
        if f.min_time is None or f.max_time is None or (f.max_time > low and f.min_time <= high)
    ]
    if len(chosen) == len(files) and files:
        return table  # every file may hold rows: the view is the same relation
    schema = (TABLES.get(table) or ROLLUP_TABLES[table]).arrow_schema
    return parquet_relation([str(f.path) for f in chosen], schema)


# -- running SQL ---------------------------------------------------------------------------------


def run(db: Database, sql: str, params: Mapping[str, Any], *, what: str) -> pa.Table:
    """Run ``sql`` with the ``$name`` parameters it uses bound; a truncated result is an error.

    Query functions size their results by design (the point budget, a ``limit``); hitting the
    row cap means the request was too broad, and a silently cut result would be wrong.
    """
    used = dict.fromkeys(_PARAM.findall(_LITERAL.sub("''", sql)))
    missing = [name for name in used if name not in params]
    if missing:
        raise KeyError(f"{what}: SQL parameters {missing} were not given")
    result = db.query(sql, {name: params[name] for name in used})
    if result.truncated:
        raise QueryError(
            f"{what} returned more than the row cap of {db.settings.query_row_cap:,} rows "
            "(NEMDASH_QUERY_ROW_CAP); narrow the range, the regions or the grouping"
        )
    log.debug("%s: %d rows in %.1f ms", what, result.table.num_rows, result.elapsed * 1000)
    return result.table


def with_range(table: pa.Table, start: datetime, end: datetime, **extra: str) -> pa.Table:
    """Record the effective range (and e.g. the resolution) in the table's schema metadata."""
    metadata = {
        "nemdash.start": nemtime.isoformat(start),
        "nemdash.end": nemtime.isoformat(end),
        "nemdash.time": "naive NEM time (UTC+10), period-ending",
        **{f"nemdash.{k}": v for k, v in extra.items()},
    }
    return table.replace_schema_metadata(metadata)


# -- series: one resolution over a range -----------------------------------------------------------


def _previous_bucket_end(resolution: Resolution, end: datetime) -> datetime:
    """The end of the bucket before the one ending ``end`` (i.e. that bucket's start)."""
    step = resolution.fixed
    if step is not None:
        return end - step
    index = end.year * 12 + end.month - 1 - _MONTHS[resolution]
    return datetime(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class SeriesPlan:
    """Where a series is read from and how its rows fall into buckets.

    ``low``/``high``: stored rows with a time (interval end, or rollup ``bucket_end``) in
    ``(low, high]`` are read. At the 5-minute grain that is exactly the range asked; at rollup
    grains it is the whole of the first and last bucket.
    """

    resolution: Resolution
    low: datetime
    high: datetime
    points: int
    """Buckets of the range: the most rows per series the result can have."""

    @property
    def grain(self) -> Grain:
        return self.resolution.grain

    @property
    def grain_name(self) -> str:
        """Suffix of the rollup table (``30m``/``day``); only for rollup grains."""
        if self.grain is Grain.FIVE_MINUTE:
            raise ValueError("the 5-minute grain is read from the lake tables, not rollups")
        return self.grain.value

    @property
    def one_row_per_bucket(self) -> bool:
        """Whether each stored row is one whole bucket (the resolution is the stored grain)."""
        return self.resolution.fixed == self.grain.interval

    def bucket_sql(self, column: str) -> str:
        """The output bucket end of a stored time column."""
        if self.resolution is Resolution.FIVE_MINUTES:
            return column
        return bucket_end_sql(self.resolution, column)

    def seconds_sql(self, column: str) -> str:
        """Length in seconds of the output bucket ending at ``column`` (calendar-exact)."""
        step = self.resolution.fixed
        if step is not None:
            return str(int(step.total_seconds()))
        months = _MONTHS[self.resolution]
        return f"(epoch({column}) - epoch({column} - INTERVAL {months} MONTH))"

    def annotate(self, table: pa.Table) -> pa.Table:
        """The result with the resolution and effective range in its schema metadata."""
        return with_range(table, self.low, self.high, resolution=self.resolution.value)


def plan_series(
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None,
    max_points: int,
) -> SeriesPlan:
    """Choose the resolution for ``(start, end]`` and the stored rows that serve it."""
    low, high = check_range(start, end)
    check_count("max_points", max_points, 1, 10_000_000)
    chosen = choose_resolution(low, high, max_points, requested=resolution)
    points = count_points(low, high, chosen)
    if chosen.grain is Grain.FIVE_MINUTE:
        return SeriesPlan(chosen, low, high, points)
    first, last = interval_bounds(low, high)
    if first > last:  # no interval ends in the range (e.g. 14:01 .. 14:04): nothing to read
        return SeriesPlan(chosen, low, low, 0)
    first_end, last_end = bucket_end(chosen, first), bucket_end(chosen, last)
    return SeriesPlan(chosen, _previous_bucket_end(chosen, first_end), last_end, points)


# -- windows: a summary over a range, read from rollups ------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Rollup rows of one grain with ``bucket_end`` in ``(low, high]``."""

    grain: str
    low: datetime
    high: datetime


@dataclass(frozen=True)
class Window:
    """A range widened to whole half hours and split into 30-minute and daily rollup pieces."""

    start: datetime
    end: datetime
    pieces: tuple[Piece, ...]

    @property
    def hours(self) -> float:
        return (self.end - self.start) / timedelta(hours=1)

    @property
    def intervals(self) -> int:
        """5-minute intervals the window should hold."""
        return int((self.end - self.start).total_seconds()) // FIVE_MINUTE_SECONDS

    def rows(
        self,
        db: Database,
        family: str,
        columns: str,
        params: dict[str, Any],
        *,
        where: str = "",
        prefix: str = "w",
        grains: Sequence[str] = ("30m", "day"),
    ) -> str:
        """``SELECT columns`` from the family's rollups over the pieces, as one UNION ALL.

        ``columns`` may use ``{grain_seconds}`` (1800 or 86400, the row's bucket length). The
        bounds are added to ``params`` as ``$<prefix><i>_lo``/``_hi``. With ``grains=("30m",)``
        the whole window is read from the 30-minute rollup (for time-of-day profiles).
        """
        pieces = self.pieces if "day" in grains else (Piece("30m", self.start, self.end),)
        parts = []
        for i, piece in enumerate(pieces):
            table = scan(db, rollup_spec(family, piece.grain).name, piece.low, piece.high)
            params[f"{prefix}{i}_lo"] = piece.low
            params[f"{prefix}{i}_hi"] = piece.high
            seconds = int(GRAINS[piece.grain].total_seconds())
            condition = f"bucket_end > ${prefix}{i}_lo AND bucket_end <= ${prefix}{i}_hi"
            if where:
                condition += f" AND ({where})"
            parts.append(
                f"SELECT {columns.format(grain_seconds=seconds)} FROM {table} WHERE {condition}"
            )
        return "\nUNION ALL\n".join(parts)

    def annotate(self, table: pa.Table) -> pa.Table:
        return with_range(table, self.start, self.end)


def _floor(value: datetime, step: timedelta) -> datetime:
    midnight = datetime.combine(value.date(), time())
    return midnight + ((value - midnight) // step) * step


def _ceil(value: datetime, step: timedelta) -> datetime:
    floor = _floor(value, step)
    return floor if floor == value else floor + step


def plan_window(start: datetime, end: datetime) -> Window:
    """The rollup pieces that cover ``(start, end]`` widened to whole half hours."""
    low, high = check_range(start, end)
    low, high = _floor(low, _HALF_HOUR), _ceil(high, _HALF_HOUR)
    first_day, last_day = _ceil(low, _DAY), _floor(high, _DAY)
    if first_day >= last_day:
        return Window(low, high, (Piece("30m", low, high),))
    pieces = []
    if low < first_day:
        pieces.append(Piece("30m", low, first_day))
    pieces.append(Piece("day", first_day, last_day))
    if last_day < high:
        pieces.append(Piece("30m", last_day, high))
    return Window(low, high, tuple(pieces))


def interval_bounds(low: datetime, high: datetime) -> tuple[datetime, datetime]:
    """First and last 5-minute interval ends in ``(low, high]`` (naive)."""
    first = nemtime.interval_ending(low + _MICROSECOND)
    last = nemtime.interval_ending(high)
    if last > high:
        last -= timedelta(minutes=5)
    return first, last


def minute_of_day_sql(column: str) -> str:
    """Minutes after midnight of a period-ending TIME or TIMESTAMP, 5 .. 1440 (midnight, which
    closes the day, is 1440)."""
    minutes = f"(hour({column}) * 60 + minute({column}))"
    return f"(CASE WHEN {minutes} = 0 THEN 1440 ELSE {minutes} END)"


# -- the metadata questions ----------------------------------------------------------------------


def regions(db: Database) -> pa.Table:
    """The NEM regions: ``regionid``, ``name`` and the rooftop PV sub-regions that make them up.

    Static (the regions are AEMO's five); ``db`` is taken for a uniform call signature.
    """
    del db
    subregions = {"QLD1": ["QLDC", "QLDN", "QLDS"], "TAS1": ["TASN", "TASS"]}
    return pa.table(
        {
            "regionid": pa.array(REGIONS, pa.string()),
            "name": pa.array([REGION_NAMES[r] for r in REGIONS], pa.string()),
            "rooftop_subregions": pa.array(
                [subregions.get(r, []) for r in REGIONS], pa.list_(pa.string())
            ),
        }
    )


_FUELS_SCHEMA = pa.schema(
    [
        column("fuel", pa.string()),
        column("label", pa.string()),
        column("renewable", pa.bool_()),
        column("storage", pa.bool_()),
        column("units", pa.int64()),
        column("registered_capacity_mw", pa.float64()),
    ]
)


@cached(tables=(REGISTRY_TABLE,))
def fuels(db: Database) -> pa.Table:
    """Every fuel: label, whether renewable or storage, and the registry's units and capacity.

    ``units`` and ``registered_capacity_mw`` (sum of ``registered_capacity_mw``) count the DUID
    registry's physical units (AEMO's aggregate ``DG_*``/``RT_*`` pseudo-units left out); rooftop
    PV has no units there, and ``unknown`` is by definition absent.
    """
    counted = run(
        db,
        f"""SELECT fuel, count(*) AS units, sum(registered_capacity_mw) AS capacity
            FROM {REGISTRY_TABLE} WHERE NOT is_aggregate GROUP BY fuel""",
        {},
        what="fuels",
    )
    found = {row["fuel"]: (row["units"], row["capacity"]) for row in counted.to_pylist()}
    rows = [
        {
            "fuel": fuel,
            "label": FUEL_LABELS[fuel],
            "renewable": fuel in RENEWABLE_FUELS,
            "storage": fuel in STORAGE_FUELS,
            "units": found.get(fuel, (0, None))[0],
            "registered_capacity_mw": found.get(fuel, (0, None))[1],
        }
        for fuel in ALL_FUELS
    ]
    return pa.Table.from_pylist(rows, schema=_FUELS_SCHEMA)


_COVERAGE_SCHEMA = pa.schema(
    [
        column("table", pa.string()),
        column("kind", pa.string()),
        column("rows", pa.int64()),
        column("files", pa.int64()),
        column("bytes", pa.int64()),
        column("first_interval", pa.timestamp("us")),
        column("last_interval", pa.timestamp("us")),
        column("lag_minutes", pa.float64()),
        column("store_version", pa.int64()),
    ]
)


def coverage_and_freshness(db: Database, *, now: datetime | None = None) -> pa.Table:
    """Per table: rows, files, first and last interval, lag behind ``now``, store version.

    Read from the lake's manifest (the min/max time and row count of every live file), so it
    costs no data scan at any scale. ``lag_minutes`` = ``now`` - last interval end (NEM time;
    ``now`` defaults to the clock). Rollups' times are their ``bucket_end``: a daily rollup's
    last bucket ends at the next midnight, so its lag is negative while the day is running.
    Not cached: it depends on the clock, and the manifest read is already cheap.
    """
    if now is not None and now.tzinfo is None:
        raise QueryError("now must be an aware datetime (NEM time is UTC+10)")
    moment = nemtime.to_naive(now if now is not None else nemtime.now())
    snapshot = db.lake.snapshot()
    names = [
        *((t, "aemo") for t in TABLES),
        *((t, "rollup") for t in ROLLUP_TABLES),
        (REGISTRY_TABLE, "registry"),
    ]
    rows = []
    for name, kind in names:
        files = snapshot.for_table(name)
        firsts = [f.min_time for f in files if f.min_time is not None]
        lasts = [f.max_time for f in files if f.max_time is not None]
        last = max(lasts) if lasts else None
        rows.append(
            {
                "table": name,
                "kind": kind,
                "rows": sum(f.rows for f in files),
                "files": len(files),
                "bytes": sum(f.bytes for f in files),
                "first_interval": min(firsts) if firsts else None,
                "last_interval": last,
                "lag_minutes": (moment - last) / timedelta(minutes=1) if last else None,
                "store_version": snapshot.version,
            }
        )
    table = pa.Table.from_pylist(rows, schema=_COVERAGE_SCHEMA)
    return table.replace_schema_metadata({"nemdash.now": nemtime.isoformat(moment)})


__all__ = [
    "ALL_FUELS",
    "CONSUMING_SERIES",
    "DEFAULT_MAX_POINTS",
    "FIVE_MINUTE_HOURS",
    "FUEL_LABELS",
    "NEM",
    "RENEWABLE_FUELS",
    "STORAGE_FUELS",
    "Piece",
    "SeriesPlan",
    "Window",
    "check_count",
    "check_fuels",
    "check_number",
    "check_range",
    "check_region",
    "check_regions",
    "check_time",
    "column",
    "coverage_and_freshness",
    "fuels",
    "interval_bounds",
    "minute_of_day_sql",
    "plan_series",
    "plan_window",
    "regions",
    "run",
    "scan",
    "time_span",
    "with_range",
]
