"""Stations and units: fuzzy search, summaries (energy, revenue, capacity factor) and series.

A station is a group of DUIDs sharing a ``station_name`` in the DUID registry (ER01..ER04 are
Eraring); a unit is one DUID. Figures come from the ``unit`` rollups (per DUID: SCADA sums,
counts, extremes, energy, running intervals, revenue), whose formulas are NEM-FACTS':

* Energy (MWh) = sum of SCADA MW x 5/60 (SCADA is instantaneous MW, not energy).
* Revenue ($) = sum of MW x 5/60 x the spot price of the unit's region at the interval: the
  30-minute trading price before five-minute settlement (2021-10-01), the 5-minute price after.
  A unit without a region in the registry has no price, hence no revenue.
* Average received price ($/MWh) = revenue / energy.
* Capacity factor (%) = energy / (registered capacity x hours of the range) x 100, where the
  registered capacity is the registry's ``registered_capacity_mw`` (the sum of the units' for a
  station): the denominator is named in every result (``capacity_basis``).
* Running hours = 5-minute intervals with SCADA MW > 0, x 5/60.

Summaries read the rollups over the range widened to whole half hours; series read
``unit_scada`` or the ``unit_30m``/``unit_day`` rollups by the point budget
(:mod:`nemdash.query.metadata`).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from nemdash.errors import QueryError
from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.metadata import (
    FIVE_MINUTE_HOURS,
    FIVE_MINUTE_SECONDS,
    check_count,
    column,
    plan_series,
    plan_window,
    run,
    scan,
)
from nemdash.query.resolution import DEFAULT_MAX_POINTS, Grain, Resolution
from nemdash.store.registry import REGISTRY_TABLE

log = logging.getLogger(__name__)

#: What a capacity factor is divided by.
CAPACITY_FACTOR_BASIS: Final = "registered_capacity_mw (duid_registry) x hours in the range"
#: Match kinds of :func:`station_search`, best first.
MATCH_KINDS: Final = ("duid", "prefix", "substring", "similar")
#: The lowest token similarity (``difflib`` ratio, 0..1) that counts as a match.
SIMILARITY_THRESHOLD: Final = 0.75
#: Longest window whose station peak is read from 30-minute rollups (else daily ones).
PEAK_30M_MAX: Final = timedelta(days=92)

_TOKEN = re.compile(r"[a-z0-9]+")
_UNIT_TABLES = ("unit_scada", "unit_30m", "unit_day", REGISTRY_TABLE)

# -- search ---------------------------------------------------------------------------------------

_SEARCH_SCHEMA = pa.schema(
    [
        column("duid", pa.string()),
        column("station_name", pa.string()),
        column("participant", pa.string()),
        column("regionid", pa.string()),
        column("fuel", pa.string()),
        column("registered_capacity_mw", pa.float64()),
        column("match", pa.string()),
        column("score", pa.float64()),
    ]
)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _match(query: str, duid: str, station: str) -> tuple[int, float] | None:
    """(kind index into :data:`MATCH_KINDS`, score in 0..1) of the best match, or None.

    The score orders matches of one kind: the share of the matched text the query covers for
    prefix and substring matches, the mean best token similarity for fuzzy ones.
    """
    q = query.lower()
    d, s = duid.lower(), station.lower()
    if q == d:
        return 0, 1.0
    words = _tokens(s)
    starts = [len(t) for t in (d, s) if t.startswith(q)]
    if starts:
        return 1, len(q) / min(starts)
    if any(w.startswith(q) for w in words):
        return 1, len(q) / max(len(s), 1)
    inside = [len(t) for t in (d, s) if q in t]
    if inside:
        return 2, len(q) / min(inside)
    wanted = _tokens(q)
    if not wanted:
        return None
    candidates = [*words, d]
    score = sum(
        max(difflib.SequenceMatcher(None, w, c).ratio() for c in candidates) for w in wanted
    ) / len(wanted)
    return (3, score) if score >= SIMILARITY_THRESHOLD else None


@cached(tables=(REGISTRY_TABLE,))
def station_search(db: Database, *, query: str, limit: int = 20) -> pa.Table:
    """Units whose DUID or station name matches ``query``, best first (at most ``limit``).

    Ranking (column ``match``): ``duid`` (the DUID exactly, any case), then ``prefix`` (the
    DUID, the station name or one of its words starts with the query), ``substring`` (the query
    is inside either), ``similar`` (the query's words are close to words of the station name or
    to the DUID: each word's best ``difflib`` ratio, averaged, is at least
    :data:`SIMILARITY_THRESHOLD`). Within a kind, a higher
    ``score`` first (share of the matched text covered, or the similarity), then station name
    and DUID. AEMO's aggregate pseudo-units (``DG_*``, ``RT_*``) are left out.
    """
    text = query.strip() if isinstance(query, str) else ""
    if not text or len(text) > 100:
        raise QueryError(f"give a search text of 1 to 100 characters, got {query!r}")
    check_count("limit", limit, 1, 1000)
    units = run(
        db,
        f"""SELECT duid, station_name, participant, region AS regionid, fuel,
                   registered_capacity_mw
            FROM {REGISTRY_TABLE} WHERE NOT is_aggregate""",
        {},
        what="station_search",
    ).to_pylist()
    found = []
    for unit in units:
        hit = _match(text, unit["duid"], unit["station_name"] or "")
        if hit is not None:
            found.append((hit[0], -hit[1], unit["station_name"] or "", unit["duid"], unit, hit))
    found.sort(key=lambda f: f[:4])
    rows = [{**unit, "match": MATCH_KINDS[hit[0]], "score": hit[1]} for *_, unit, hit in found]
    return pa.Table.from_pylist(rows[:limit], schema=_SEARCH_SCHEMA)


# -- which units ----------------------------------------------------------------------------------


def _units(db: Database, station: str | None, duid: str | None) -> list[dict[str, Any]]:
    """Registry rows of the station's units (or of one unit); QueryError if none match."""
    if (station is None) == (duid is None):
        raise QueryError("give exactly one of station (a station name) or duid (a unit id)")
    if station is not None:
        key, value, condition = "station", station.strip(), "lower(station_name) = lower($value)"
    else:
        key, value, condition = "duid", (duid or "").strip(), "upper(duid) = upper($value)"
    rows = run(
        db,
        f"""SELECT duid, station_name, region AS regionid, fuel, registered_capacity_mw
            FROM {REGISTRY_TABLE} WHERE NOT is_aggregate AND {condition} ORDER BY duid""",
        {"value": value},
        what="station units",
    ).to_pylist()
    if not rows:
        raise QueryError(
            f"no {key} {value!r} in the DUID registry; find the exact name or DUID with "
            "station_search, or run `nemdash registry update` if the unit is new"
        )
    return rows


# -- summary --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationSummary:
    """One station's (or unit's) figures over a range; times are naive NEM time."""

    station_name: str | None
    duids: tuple[str, ...]
    regionids: tuple[str, ...]
    fuels: tuple[str, ...]
    start: datetime
    """Start of the effective range (the range asked, widened to whole half hours)."""
    end: datetime
    hours: float
    energy_mwh: float
    revenue: float | None
    average_price: float | None
    """Revenue / energy, $/MWh (NULL without revenue or energy)."""
    registered_capacity_mw: float | None
    capacity_factor_pct: float | None
    capacity_basis: str
    peak_mw: float | None
    peak_basis: str
    running_hours: float
    """Hours with output > 0, summed over the units (unit-hours for a station of several)."""
    intervals: int
    """Unit-intervals with a SCADA value."""
    expected_intervals: int
    """Units x 5-minute intervals of the range."""
    units: pa.Table
    """The same figures per unit (DUID)."""

    @property
    def completeness(self) -> float:
        return self.intervals / self.expected_intervals if self.expected_intervals else 0.0


_UNITS_SCHEMA = pa.schema(
    [
        column("duid", pa.string()),
        column("station_name", pa.string()),
        column("regionid", pa.string()),
        column("fuel", pa.string()),
        column("registered_capacity_mw", pa.float64()),
        column("energy_mwh", pa.float64()),
        column("revenue", pa.float64()),
        column("average_price", pa.float64()),
        column("capacity_factor_pct", pa.float64()),
        column("peak_mw", pa.float64()),
        column("running_hours", pa.float64()),
        column("intervals", pa.int64()),
        column("priced_intervals", pa.int64()),
        column("completeness", pa.float64()),
    ]
)


def _ratio(num: float | None, den: float | None, scale: float = 1.0) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return scale * num / den


@cached(tables=("unit_30m", "unit_day", REGISTRY_TABLE))
def station_summary(
    db: Database,
    *,
    station: str | None = None,
    duid: str | None = None,
    start: datetime,
    end: datetime,
) -> StationSummary:
    """Energy, revenue, average received price, capacity factor, peak and running hours.

    Of a whole station (``station``: its name, any case) or one unit (``duid``), over the range
    widened to whole half hours; formulas in the module docstring. ``peak_mw``: for one unit its
    highest 5-minute output; for a station of several units the highest 30-minute mean of their
    total (ranges up to 92 days) or the highest daily mean (longer ranges), as ``peak_basis``
    says: the 5-minute station peak would need a scan of the 5-minute lake.
    """
    units = _units(db, station, duid)
    window = plan_window(start, end)
    duids = [u["duid"] for u in units]
    params: dict[str, Any] = {"duids": duids}
    rows = window.rows(
        db,
        "unit",
        "duid, scadavalue_count, scadavalue_max, energy_mwh, running_count, revenue, revenue_count",
        params,
        where="list_contains($duids, duid)",
    )
    sql = f"""
        SELECT duid, sum(energy_mwh) AS energy_mwh, sum(revenue) AS revenue,
               CAST(sum(scadavalue_count) AS BIGINT) AS intervals,
               CAST(sum(revenue_count) AS BIGINT) AS priced_intervals,
               max(scadavalue_max) AS peak_mw, CAST(sum(running_count) AS BIGINT) AS running
        FROM ({rows}) GROUP BY duid"""
    measured = {r["duid"]: r for r in run(db, sql, params, what="station_summary").to_pylist()}
    hours, expected = window.hours, window.intervals
    per_unit = []
    for unit in units:
        m = measured.get(unit["duid"], {})
        energy = m.get("energy_mwh") or 0.0
        intervals = m.get("intervals") or 0
        per_unit.append(
            {
                **unit,
                "energy_mwh": energy,
                "revenue": m.get("revenue"),
                "average_price": _ratio(m.get("revenue"), energy),
                "capacity_factor_pct": _ratio(
                    energy, _times(unit["registered_capacity_mw"], hours), 100.0
                ),
                "peak_mw": m.get("peak_mw"),
                "running_hours": (m.get("running") or 0) * FIVE_MINUTE_HOURS,
                "intervals": intervals,
                "priced_intervals": m.get("priced_intervals") or 0,
                "completeness": intervals / expected,
            }
        )
    table = pa.Table.from_pylist(per_unit, schema=_UNITS_SCHEMA)
    energy = sum(u["energy_mwh"] for u in per_unit)
    revenues = [u["revenue"] for u in per_unit if u["revenue"] is not None]
    revenue = sum(revenues) if revenues else None
    capacities = [u["registered_capacity_mw"] for u in per_unit]
    capacity = sum(capacities) if all(c is not None for c in capacities) else None
    peak, basis = _peak(db, window.start, window.end, duids, per_unit)
    return StationSummary(
        station_name=units[0]["station_name"],
        duids=tuple(duids),
        regionids=tuple(sorted({u["regionid"] for u in units if u["regionid"]})),
        fuels=tuple(sorted({u["fuel"] for u in units if u["fuel"]})),
        start=window.start,
        end=window.end,
        hours=hours,
        energy_mwh=energy,
        revenue=revenue,
        average_price=_ratio(revenue, energy),
        registered_capacity_mw=capacity,
        capacity_factor_pct=_ratio(energy, _times(capacity, hours), 100.0),
        capacity_basis=CAPACITY_FACTOR_BASIS,
        peak_mw=peak,
        peak_basis=basis,
        running_hours=sum(u["running_hours"] for u in per_unit),
        intervals=sum(u["intervals"] for u in per_unit),
        expected_intervals=expected * len(per_unit),
        units=table,
    )


def _times(capacity: float | None, hours: float) -> float | None:
    return None if capacity is None else capacity * hours


def _peak(
    db: Database,
    start: datetime,
    end: datetime,
    duids: Sequence[str],
    per_unit: Sequence[Mapping[str, Any]],
) -> tuple[float | None, str]:
    """The station's peak and what it is (see :func:`station_summary`)."""
    if len(duids) == 1:
        return per_unit[0]["peak_mw"], "highest 5-minute SCADA output"
    grain, basis = (
        ("30m", "highest 30-minute mean of the station's total output")
        if end - start <= PEAK_30M_MAX
        else ("day", "highest daily mean of the station's total output")
    )
    sql = f"""
        SELECT max(total) AS peak FROM (
            SELECT bucket_end, sum(scadavalue_sum / scadavalue_count) AS total
            FROM {scan(db, f"unit_{grain}", start, end)}
            WHERE bucket_end > $lo AND bucket_end <= $hi AND list_contains($duids, duid)
              AND scadavalue_count > 0
            GROUP BY bucket_end
        )"""
    found = run(db, sql, {"lo": start, "hi": end, "duids": list(duids)}, what="station peak")
    return found.column("peak")[0].as_py(), basis


# -- series ---------------------------------------------------------------------------------------

_SERIES_SCHEMA = pa.schema(
    [
        column("bucket_end", pa.timestamp("us")),
        column("duid", pa.string()),
        column("mw_mean", pa.float64()),
        column("mw_min", pa.float64()),
        column("mw_max", pa.float64()),
        column("energy_mwh", pa.float64()),
        column("intervals", pa.int64()),
        column("completeness", pa.float64()),
    ]
)


@cached(tables=_UNIT_TABLES)
def station_series(
    db: Database,
    *,
    station: str | None = None,
    duid: str | None = None,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pa.Table:
    """Output per bucket and unit of a station (or of one unit).

    ``mw_mean`` = sum of SCADA MW / intervals present; ``mw_min``/``mw_max`` the lowest and
    highest 5-minute MW; ``energy_mwh`` = sum of MW x 5/60; ``completeness`` = intervals /
    intervals the whole bucket holds. The station's total is the sum of its units' ``mw_mean``.
    """
    units = _units(db, station, duid)
    plan = plan_series(start, end, resolution, max_points)
    params: dict[str, Any] = {"duids": [u["duid"] for u in units], "lo": plan.low, "hi": plan.high}
    if plan.grain is Grain.FIVE_MINUTE:
        params["hours"] = FIVE_MINUTE_HOURS
        source = f"""
            SELECT settlementdate AS b, duid, scadavalue AS s, CAST(1 AS BIGINT) AS n,
                   scadavalue AS lo, scadavalue AS hi, scadavalue * $hours AS e,
                   {FIVE_MINUTE_SECONDS} AS covered_s
            FROM {scan(db, "unit_scada", plan.low, plan.high)}
            WHERE settlementdate > $lo AND settlementdate <= $hi AND scadavalue IS NOT NULL
              AND list_contains($duids, duid)"""
    else:
        source = f"""
            SELECT bucket_end AS b, duid, scadavalue_sum AS s, scadavalue_count AS n,
                   scadavalue_min AS lo, scadavalue_max AS hi, energy_mwh AS e,
                   scadavalue_count * {FIVE_MINUTE_SECONDS} AS covered_s
            FROM {scan(db, f"unit_{plan.grain_name}", plan.low, plan.high)}
            WHERE bucket_end > $lo AND bucket_end <= $hi AND scadavalue_count > 0
              AND list_contains($duids, duid)"""
    sql = f"""
        WITH g AS (
            SELECT {plan.bucket_sql("b")} AS bucket_end, duid, sum(s) / sum(n) AS mw_mean,
                   min(lo) AS mw_min, max(hi) AS mw_max, sum(e) AS energy_mwh,
                   CAST(sum(n) AS BIGINT) AS intervals, sum(covered_s) AS covered_s
            FROM ({source}) GROUP BY ALL
        )
        SELECT bucket_end, duid, mw_mean, mw_min, mw_max, energy_mwh, intervals,
               covered_s / {plan.seconds_sql("bucket_end")} AS completeness
        FROM g ORDER BY bucket_end, duid"""
    return plan.annotate(run(db, sql, params, what="station_series").cast(_SERIES_SCHEMA))


__all__ = [
    "CAPACITY_FACTOR_BASIS",
    "MATCH_KINDS",
    "StationSummary",
    "station_search",
    "station_series",
    "station_summary",
]
