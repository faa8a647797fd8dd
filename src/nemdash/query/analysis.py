"""The pivot: energy, revenue, price, capacity and utilisation by region, fuel, station or unit.

One row per combination of the chosen keys (in the order given), summed over the units of the
DUID registry that reported SCADA in the range, from the ``unit`` rollups over the range widened
to whole half hours (:mod:`nemdash.query.metadata`). Each unit's region, fuel, station and
capacity are the registry's today; a unit it does not know is region and fuel ``unknown`` and its
own station. AEMO's aggregate pseudo-units (``DG_*``, ``RT_*``) are left out, and rooftop PV,
having no DUID, is not in the pivot (see ``generation_stats``). Every measure is a sum or a ratio
of sums, so the rows of any grouping add up to the ungrouped total.

Formulas (NEM-FACTS, "Calculations users expect"):

* ``energy_mwh`` = sum of SCADA MW x 5/60; ``revenue`` = sum of MW x 5/60 x the regional spot
  price (30-minute before 2021-10-01, 5-minute after).
* ``average_price`` = revenue / energy of the priced units' buckets ($/MWh).
* ``capacity_mw`` = sum of the units' ``registered_capacity_mw``.
* ``utilisation_pct`` = energy / (registered capacity x hours the unit reported SCADA) x 100,
  over units with a registered capacity: the same capacity basis as ``capacity_utilisation``,
  but on net energy (the unit rollups keep no generating part apart), so a battery's charging
  counts against it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from nemdash.errors import QueryError
from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.metadata import (
    FIVE_MINUTE_HOURS,
    check_fuels,
    check_regions,
    column,
    plan_window,
    run,
)
from nemdash.store.registry import REGISTRY_TABLE
from nemdash.store.rollup_specs import UNKNOWN

log = logging.getLogger(__name__)

#: The keys a pivot may group by, and the output column each becomes.
PIVOT_KEYS: Final = {
    "region": "regionid",
    "fuel": "fuel",
    "station": "station_name",
    "duid": "duid",
}
#: Aliases accepted for the keys (AEMO's column names).
_ALIASES: Final = {"regionid": "region", "station_name": "station"}
#: What the utilisation is divided by.
UTILISATION_BASIS: Final = "registered_capacity_mw (duid_registry) x hours the unit reported SCADA"

_MEASURES = [
    column("energy_mwh", pa.float64()),
    column("revenue", pa.float64()),
    column("average_price", pa.float64()),
    column("capacity_mw", pa.float64()),
    column("utilisation_pct", pa.float64()),
    column("units", pa.int64()),
]


def check_group_by(group_by: str | Sequence[str]) -> tuple[str, ...]:
    """The pivot keys, in order, without repeats; QueryError names the allowed ones."""
    given = [group_by] if isinstance(group_by, str) else list(group_by)
    keys: list[str] = []
    for key in given:
        name = _ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if name not in PIVOT_KEYS:
            raise QueryError(f"cannot group by {key!r}; use any of {', '.join(PIVOT_KEYS)}")
        if name in keys:
            raise QueryError(f"{key!r} is given twice in group_by")
        keys.append(name)
    return tuple(keys)


@cached(tables=("unit_30m", "unit_day", REGISTRY_TABLE))
def pivot(
    db: Database,
    *,
    group_by: str | Sequence[str] = (),
    start: datetime,
    end: datetime,
    regions: str | Sequence[str] | None = None,
    fuels: str | Sequence[str] | None = None,
) -> pa.Table:
    """Energy, revenue, average price, capacity and utilisation per group of units.

    ``group_by``: any ordered subset of ``region``, ``fuel``, ``station``, ``duid`` (empty: one
    total row). ``regions``/``fuels`` keep only those units. Rows sorted by the keys; ``units``
    counts the units in each row. See the module docstring for the formulas.
    """
    keys = check_group_by(group_by)
    chosen_regions = check_regions(regions) if regions is not None else None
    chosen_fuels = check_fuels(fuels)
    window = plan_window(start, end)
    params: dict[str, Any] = {"unknown": UNKNOWN, "hours": FIVE_MINUTE_HOURS}
    rows = window.rows(db, "unit", "duid, energy_mwh, revenue, scadavalue_count", params)
    filters = ["NOT coalesce(r.is_aggregate, false)"]
    if chosen_regions is not None:
        params["regions"] = list(chosen_regions)
        filters.append("list_contains($regions, coalesce(r.region, $unknown))")
    if chosen_fuels is not None:
        params["fuels"] = list(chosen_fuels)
        filters.append("list_contains($fuels, coalesce(r.fuel, $unknown))")
    columns = [PIVOT_KEYS[k] for k in keys]  # from the fixed allow-list above
    select_keys = "".join(f"{c}, " for c in columns)
    group = f"GROUP BY {', '.join(columns)} ORDER BY {', '.join(columns)}" if columns else ""
    sql = f"""
        WITH u AS (
            SELECT duid, sum(energy_mwh) AS e, sum(revenue) AS rev,
                   sum(energy_mwh) FILTER (WHERE revenue IS NOT NULL) AS priced_e,
                   sum(scadavalue_count) AS n
            FROM ({rows}) GROUP BY duid
        ),
        j AS (
            SELECT u.duid, coalesce(r.region, $unknown) AS regionid,
                   coalesce(r.fuel, $unknown) AS fuel,
                   coalesce(r.station_name, u.duid) AS station_name,
                   r.registered_capacity_mw AS capacity, u.e, u.rev, u.priced_e, u.n
            FROM u LEFT JOIN {REGISTRY_TABLE} r ON r.duid = u.duid
            WHERE {" AND ".join(filters)}
        )
        SELECT {select_keys}
               coalesce(sum(e), 0) AS energy_mwh, sum(rev) AS revenue,
               sum(rev) / nullif(sum(priced_e), 0) AS average_price,
               sum(capacity) AS capacity_mw,
               100 * sum(e) FILTER (WHERE capacity IS NOT NULL)
                   / nullif(sum(capacity * n * $hours), 0) AS utilisation_pct,
               count(*) AS units
        FROM j {group}"""
    schema = pa.schema([*(column(c, pa.string()) for c in columns), *_MEASURES])
    table = run(db, sql, params, what="pivot").cast(schema)
    return window.annotate(table)


__all__ = ["PIVOT_KEYS", "UTILISATION_BASIS", "check_group_by", "pivot"]
