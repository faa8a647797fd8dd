"""Generation questions: the mix by fuel, per-fuel statistics, utilisation, time of day, renewables.

Fleets come from the ``fuel`` rollups (:mod:`nemdash.store.rollups`): SCADA units summed per
region and fuel at each 5-minute interval first (so a fleet's mean, minimum and maximum are the
fleet's, not its units'), the generating part (MW > 0) and the consuming part (MW < 0, a battery
charging) kept apart. AEMO's aggregate pseudo-units (``DG_*``, ``RT_*``) are left out; units the
DUID registry does not know are region and fuel ``unknown`` (they count in the NEM, in no region).
Rooftop PV is fuel ``rooftop_solar``, from the five regions' ``rooftop_pv`` rows only (never the
sub-regions QLDC/QLDN/QLDS/TASN/TASS, which are parts of QLD1 and TAS1), MEASUREMENT preferred to
SATELLITE; its half-hourly value is an average MW, so it stands for each of its six 5-minute
intervals.

Formulas (NEM-FACTS, "Calculations users expect"):

* Energy (MWh) = sum of MW x interval hours (5/60 for SCADA, 0.5 for rooftop PV).
* Mean MW of a fleet over a bucket = sum of its per-interval MW / intervals present; the NEM's
  (or a set of regions') = the sum of the regions' means.
* Revenue ($) = sum of MW x hours x the spot price of the unit's region at the interval (the
  30-minute trading price before 2021-10-01, the 5-minute price after); volume-weighted price =
  revenue / energy.
* Capacity utilisation (%) = energy / (capacity x hours) x 100.
* Renewable share (%) = (wind + solar_utility + rooftop_solar + hydro + pumped_hydro + biomass)
  generation / total generation x 100; batteries and imports are in neither. Pumped hydro counts
  as hydro: its generation is renewable and its pumping is not subtracted.

Series read the ``fuel_5m``, ``fuel_30m`` or ``fuel_day`` rollup by the point budget (a week of
5-minute mix reads ~70,000 fleet rows rather than a million SCADA rows); summaries read the
rollups over the range widened to whole half hours (:mod:`nemdash.query.metadata`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.interconnectors import flow_rows, signs_for
from nemdash.query.metadata import (
    CONSUMING_SERIES,
    FIVE_MINUTE_HOURS,
    FIVE_MINUTE_SECONDS,
    NEM,
    RENEWABLE_FUELS,
    STORAGE_FUELS,
    SeriesPlan,
    check_fuels,
    check_region,
    column,
    minute_of_day_sql,
    plan_series,
    plan_window,
    run,
    scan,
)
from nemdash.query.prices import price_rows, time_label_sql
from nemdash.query.resolution import DEFAULT_MAX_POINTS, Grain, Resolution
from nemdash.store.registry import REGISTRY_TABLE
from nemdash.tables import REGIONS

log = logging.getLogger(__name__)

#: Series of imports into a region and exports out of it (negative) in the mix.
IMPORTS: Final = "imports"
EXPORTS: Final = "exports"
#: What the capacity in :func:`capacity_utilisation` is.
CAPACITY_BASIS: Final = (
    "registered_capacity_mw (duid_registry) of the units reporting SCADA, at each interval"
)

_FLEET_TABLES = ("unit_scada", "rooftop_pv", REGISTRY_TABLE, "fuel_5m", "fuel_30m", "fuel_day")
_MIX_TABLES = (
    *_FLEET_TABLES,
    "interconnector_flow",
    "interconnector_30m",
    "interconnector_day",
    "dispatch_price",
    "dispatch_regionsum",
    "price_30m",
    "price_day",
)


def _region_filter(region: str, params: dict[str, Any], column: str = "regionid") -> str:
    """SQL condition keeping one region's rows (always true for the NEM)."""
    if region == NEM:
        return "true"
    params["region"] = region
    return f"{column} = $region"


def fleet_rows(db: Database, plan: SeriesPlan, params: dict[str, Any], *, region: str) -> str:
    """Fleet rows (region x fuel) of the plan's grain in ``(low, high]``, uniform columns.

    Columns: ``b``, ``regionid``, ``fuel``, ``mw_sum``/``mw_count`` (per-interval fleet MW),
    ``mw_pos_sum``, ``mw_neg_sum``, ``energy_mwh``, ``energy_pos_mwh``, ``energy_neg_mwh``,
    ``covered_s`` (seconds of the intervals present). Read from the fuel rollup of the plan's
    grain: ``fuel_5m`` (each interval, rooftop PV carrying its half hour's value), ``fuel_30m``
    or ``fuel_day``.
    """
    params["lo"], params["hi"] = plan.low, plan.high
    keep = _region_filter(region, params)
    grain = "5m" if plan.grain is Grain.FIVE_MINUTE else plan.grain_name
    return f"""
        SELECT bucket_end AS b, regionid, fuel, mw_sum, mw_count, mw_pos_sum, mw_neg_sum,
               energy_mwh, energy_pos_mwh, energy_neg_mwh,
               mw_count * {int(plan.grain.interval.total_seconds())} / expected AS covered_s
        FROM {scan(db, f"fuel_{grain}", plan.low, plan.high)}
        WHERE bucket_end > $lo AND bucket_end <= $hi AND mw_count > 0 AND {keep}"""


def _fleet_per_bucket(plan: SeriesPlan, fleet: str) -> str:
    """Fleet rows summed into the plan's buckets: ``bucket_end``, ``regionid``, ``fuel``, mean
    ``mw``/``mw_pos``/``mw_neg``, energies ``e``/``ep``/``en`` and ``covered_s``.

    When the resolution is the stored grain (5-minute, 30-minute or daily) the fleet rows are
    already one per bucket, region and fuel: they are renamed, not grouped again (that grouping
    was a third of the time of a week's 5-minute mix and of five years' daily mix).
    """
    if plan.one_row_per_bucket:
        return f"""
            SELECT b AS bucket_end, regionid, fuel, mw_sum / mw_count AS mw,
                   mw_pos_sum / mw_count AS mw_pos, mw_neg_sum / mw_count AS mw_neg,
                   energy_mwh AS e, energy_pos_mwh AS ep, energy_neg_mwh AS en, covered_s
            FROM ({fleet})"""
    return f"""
        SELECT {plan.bucket_sql("b")} AS bucket_end, regionid, fuel,
               sum(mw_sum) / sum(mw_count) AS mw, sum(mw_pos_sum) / sum(mw_count) AS mw_pos,
               sum(mw_neg_sum) / sum(mw_count) AS mw_neg, sum(energy_mwh) AS e,
               sum(energy_pos_mwh) AS ep, sum(energy_neg_mwh) AS en, sum(covered_s) AS covered_s
        FROM ({fleet}) GROUP BY ALL"""


def _split_series(source: str, keys: str, params: dict[str, Any]) -> str:
    """Series rows from fleet aggregates ``source`` (columns ``fuel``, ``mw``, ``mw_pos``,
    ``mw_neg``, ``e``, ``ep``, ``en``, ``completeness`` and ``keys``).

    A fuel that both generates and consumes (:data:`CONSUMING_SERIES`) becomes two series: its
    generating part under its name, its consuming part (negative) under the consuming name.
    Every other fuel is one series of its net output.
    """
    params["consuming_fuels"] = list(CONSUMING_SERIES)
    params["consuming_names"] = list(CONSUMING_SERIES.values())
    split = "list_contains($consuming_fuels, fuel)"
    name = "($consuming_names)[list_position($consuming_fuels, fuel)]"
    return f"""
        SELECT {keys}, fuel AS series, mw, e AS energy_mwh, completeness
        FROM {source} WHERE NOT {split}
        UNION ALL
        SELECT {keys}, fuel AS series, mw_pos AS mw, ep AS energy_mwh, completeness
        FROM {source} WHERE {split}
        UNION ALL
        SELECT {keys}, {name} AS series, mw_neg AS mw, en AS energy_mwh, completeness
        FROM {source} WHERE {split}"""


# -- the mix --------------------------------------------------------------------------------------

_MIX_SCHEMA = pa.schema(
    [
        column("bucket_end", pa.timestamp("us")),
        column("series", pa.string()),
        column("mw", pa.float64()),
        column("energy_mwh", pa.float64()),
        column("completeness", pa.float64()),
        column("rrp", pa.float64()),
    ]
)


@cached(tables=_MIX_TABLES)
def generation_mix(
    db: Database,
    *,
    region: str = NEM,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pa.Table:
    """Mean MW and energy per bucket and series for the NEM or one region, with the price.

    Series: one per fuel (net output), ``rooftop_solar``; ``battery`` (discharging, >= 0) and
    ``battery_charging`` (<= 0), ``pumped_hydro`` and ``pumped_hydro_pumping`` likewise; for a
    region, ``imports`` (>= 0) and ``exports`` (<= 0): per interconnector, the bucket's mean flow
    into the region, its positive parts summed as imports and negative parts as exports. ``mw`` =
    mean MW over the intervals present (regions' means summed for the NEM), ``energy_mwh`` =
    sum of MW x hours, ``completeness`` = intervals / intervals the whole bucket holds (the lowest
    over the regions summed). ``rrp``: the region's mean price over the bucket; for the NEM the
    load-weighted mean, sum(RRP x demand) / sum(demand) over the regions. Sorted by bucket and
    series name.
    """
    chosen = check_region(region)
    plan = plan_series(start, end, resolution, max_points)
    params: dict[str, Any] = {
        "price_regions": list(REGIONS) if chosen == NEM else [chosen],
        "interval_seconds": FIVE_MINUTE_SECONDS,
    }
    fleet = fleet_rows(db, plan, params, region=chosen)
    prices = price_rows(db, plan, params, regions_param="price_regions")
    bucket = plan.bucket_sql("b")
    seconds = plan.seconds_sql("bucket_end")
    ctes = [
        f"f AS ({_fleet_per_bucket(plan, fleet)})",
        f"""ff AS (
            SELECT bucket_end, fuel, sum(mw) AS mw, sum(mw_pos) AS mw_pos, sum(mw_neg) AS mw_neg,
                   sum(e) AS e, sum(ep) AS ep, sum(en) AS en,
                   min(covered_s / {seconds}) AS completeness
            FROM f GROUP BY ALL
        )""",
        f"""p AS (
            SELECT {bucket} AS bucket_end,
                   CASE WHEN $nem THEN sum(rrp_x_totaldemand_sum) / sum(priced_totaldemand_sum)
                        ELSE sum(rrp_sum) / sum(rrp_count) END AS rrp
            FROM ({prices}) GROUP BY ALL
        )""",
    ]
    params["nem"] = chosen == NEM
    series = _split_series("ff", "bucket_end", params)
    if chosen != NEM:
        signs = signs_for(chosen)
        params.update(ics=list(signs), signs=list(signs.values()))
        flows = flow_rows(db, plan, params)
        ctes.append(
            f"""ic AS (
                SELECT bucket_end,
                       ($signs)[list_position($ics, interconnectorid)] * flow AS into_mw,
                       n, covered_s
                FROM (
                    SELECT {bucket} AS bucket_end, interconnectorid,
                           sum(flow_sum) / sum(flow_count) AS flow, sum(flow_count) AS n,
                           sum(covered_s) AS covered_s
                    FROM ({flows}) WHERE flow_count > 0 GROUP BY ALL
                )
            )"""
        )
        series += f"""
            UNION ALL
            SELECT bucket_end, '{IMPORTS}' AS series, sum(greatest(into_mw, 0)) AS mw,
                   sum(greatest(into_mw, 0) * n * $interval_seconds / 3600) AS energy_mwh,
                   min(covered_s / {seconds}) AS completeness
            FROM ic GROUP BY bucket_end
            UNION ALL
            SELECT bucket_end, '{EXPORTS}' AS series, sum(least(into_mw, 0)) AS mw,
                   sum(least(into_mw, 0) * n * $interval_seconds / 3600) AS energy_mwh,
                   min(covered_s / {seconds}) AS completeness
            FROM ic GROUP BY bucket_end"""
    sql = f"""
        WITH {", ".join(ctes)},
        s AS ({series})
        SELECT s.bucket_end, s.series, s.mw, s.energy_mwh, s.completeness, p.rrp
        FROM s LEFT JOIN p USING (bucket_end)
        ORDER BY s.bucket_end, s.series"""
    return plan.annotate(run(db, sql, params, what="generation_mix").cast(_MIX_SCHEMA))


# -- per-fuel summaries ---------------------------------------------------------------------------

_STATS_SCHEMA = pa.schema(
    [
        column("fuel", pa.string()),
        column("average_mw", pa.float64()),
        column("energy_gwh", pa.float64()),
        column("generated_gwh", pa.float64()),
        column("consumed_gwh", pa.float64()),
        column("share_pct", pa.float64()),
        column("volume_weighted_rrp", pa.float64()),
        column("consumption_weighted_rrp", pa.float64()),
        column("completeness", pa.float64()),
    ]
)


@cached(tables=("fuel_30m", "fuel_day"))
def generation_stats(
    db: Database,
    *,
    region: str = NEM,
    start: datetime,
    end: datetime,
) -> pa.Table:
    """Per fuel over the range (widened to whole half hours): output, energy, share and price.

    * ``average_mw`` = net energy / hours of the range; ``energy_gwh`` net energy,
      ``generated_gwh`` the generating part, ``consumed_gwh`` the consuming part (<= 0).
    * ``share_pct`` = the fuel's generated energy / all fuels' generated energy x 100 (rooftop PV
      and battery discharge included).
    * ``volume_weighted_rrp`` = revenue / energy of the generating part ($/MWh received);
      ``consumption_weighted_rrp`` the same for the consuming part ($/MWh paid; NULL if none).
    * ``completeness`` = intervals present / intervals of the range (lowest over the regions).
    Sorted by generated energy, largest first.
    """
    chosen = check_region(region)
    window = plan_window(start, end)
    params: dict[str, Any] = {"hours": window.hours, "seconds": window.hours * 3600}
    keep = _region_filter(chosen, params)
    rows = window.rows(
        db,
        "fuel",
        "regionid, fuel, energy_mwh, energy_pos_mwh, energy_neg_mwh, revenue_pos, revenue_neg, "
        "mw_count * {grain_seconds} / expected AS covered_s",
        params,
        where=keep,
    )
    sql = f"""
        WITH f AS (
            SELECT regionid, fuel, sum(energy_mwh) AS e, sum(energy_pos_mwh) AS ep,
                   sum(energy_neg_mwh) AS en, sum(revenue_pos) AS rp, sum(revenue_neg) AS rn,
                   sum(covered_s) AS covered_s
            FROM ({rows}) GROUP BY ALL
        ),
        ff AS (
            SELECT fuel, sum(e) AS e, sum(ep) AS ep, sum(en) AS en, sum(rp) AS rp, sum(rn) AS rn,
                   min(covered_s) / $seconds AS completeness
            FROM f GROUP BY fuel
        )
        SELECT fuel, e / $hours AS average_mw, e / 1000 AS energy_gwh, ep / 1000 AS generated_gwh,
               en / 1000 AS consumed_gwh,
               100 * ep / nullif(sum(ep) OVER (), 0) AS share_pct,
               CASE WHEN ep > 0 THEN rp / ep END AS volume_weighted_rrp,
               CASE WHEN en < 0 THEN rn / en END AS consumption_weighted_rrp,
               completeness
        FROM ff ORDER BY ep DESC, fuel"""
    return window.annotate(run(db, sql, params, what="generation_stats").cast(_STATS_SCHEMA))


_UTILISATION_SCHEMA = pa.schema(
    [
        column("fuel", pa.string()),
        column("generated_mwh", pa.float64()),
        column("capacity_mwh", pa.float64()),
        column("capacity_mw", pa.float64()),
        column("utilisation_pct", pa.float64()),
        column("registered_capacity_mw", pa.float64()),
        column("capacity_basis", pa.string()),
    ]
)


@cached(tables=("fuel_30m", "fuel_day", REGISTRY_TABLE))
def capacity_utilisation(
    db: Database,
    *,
    region: str = NEM,
    start: datetime,
    end: datetime,
) -> pa.Table:
    """Capacity utilisation by fuel over the range (widened to whole half hours).

    ``utilisation_pct`` = generated energy / (capacity x hours) x 100, where capacity x hours =
    ``capacity_mwh`` = the sum over 5-minute intervals of the registered capacity of the units
    that reported SCADA then, x 5/60 (:data:`CAPACITY_BASIS`, also in column
    ``capacity_basis``): a unit not yet built, retired, or silent is not counted. ``capacity_mw``
    = ``capacity_mwh`` / hours of the range (the average capacity reporting);
    ``registered_capacity_mw`` = the capacity the registry lists today (for reference). Rooftop
    PV has no registered capacity: its utilisation is NULL.
    """
    chosen = check_region(region)
    window = plan_window(start, end)
    params: dict[str, Any] = {
        "hours": window.hours,
        "interval_hours": FIVE_MINUTE_HOURS,
        "basis": CAPACITY_BASIS,
    }
    keep = _region_filter(chosen, params)
    rows = window.rows(
        db, "fuel", "regionid, fuel, energy_pos_mwh, capacity_mw_sum", params, where=keep
    )
    registry_keep = _region_filter(chosen, params, "region")
    sql = f"""
        WITH f AS (
            SELECT fuel, sum(energy_pos_mwh) AS ep,
                   sum(capacity_mw_sum) * $interval_hours AS capacity_mwh
            FROM ({rows}) GROUP BY fuel
        ),
        r AS (
            SELECT fuel, sum(registered_capacity_mw) AS registered_capacity_mw
            FROM {REGISTRY_TABLE} WHERE NOT is_aggregate AND {registry_keep} GROUP BY fuel
        )
        SELECT f.fuel, f.ep AS generated_mwh, f.capacity_mwh,
               f.capacity_mwh / $hours AS capacity_mw,
               CASE WHEN f.capacity_mwh > 0 THEN 100 * f.ep / f.capacity_mwh END
                   AS utilisation_pct,
               r.registered_capacity_mw, $basis AS capacity_basis
        FROM f LEFT JOIN r USING (fuel)
        ORDER BY f.fuel"""
    return window.annotate(
        run(db, sql, params, what="capacity_utilisation").cast(_UTILISATION_SCHEMA)
    )


# -- time of day ----------------------------------------------------------------------------------

_TOD_SCHEMA = pa.schema(
    [
        column("series", pa.string()),
        column("minute_of_day", pa.int64()),
        column("time_of_day", pa.string()),
        column("mw", pa.float64()),
    ]
)


@cached(tables=("fuel_30m",))
def generation_time_of_day(
    db: Database,
    *,
    region: str = NEM,
    start: datetime,
    end: datetime,
    fuels: str | Sequence[str] | None = None,
) -> pa.Table:
    """Mean MW by half hour of the day per series (as in :func:`generation_mix`).

    ``mw`` = sum of the fleet's per-interval MW / intervals present, over every day of the range
    (widened to whole half hours), for the half hour ending at ``minute_of_day`` (30 .. 1440,
    period-ending; ``time_of_day`` ``00:30`` .. ``24:00``); the NEM's is the sum of the regions'.
    Read from the ``fuel_30m`` rollup. ``fuels`` narrows the fuels (default all).
    """
    chosen = check_region(region)
    wanted = check_fuels(fuels)
    window = plan_window(start, end)
    params: dict[str, Any] = {}
    keep = _region_filter(chosen, params)
    if wanted is not None:
        params["fuels"] = list(wanted)
        keep += " AND list_contains($fuels, fuel)"
    rows = window.rows(
        db,
        "fuel",
        "bucket_end, regionid, fuel, mw_sum, mw_pos_sum, mw_neg_sum, mw_count",
        params,
        where=keep + " AND mw_count > 0",
        grains=("30m",),
    )
    # Grouped on the clock time (cheaper than computing minutes on every row), named after.
    series = _split_series("ff", "tod", params)
    sql = f"""
        WITH f AS (
            SELECT CAST(bucket_end AS TIME) AS tod, regionid, fuel,
                   sum(mw_sum) / sum(mw_count) AS mw, sum(mw_pos_sum) / sum(mw_count) AS mw_pos,
                   sum(mw_neg_sum) / sum(mw_count) AS mw_neg
            FROM ({rows}) GROUP BY ALL
        ),
        ff AS (
            SELECT tod, fuel, sum(mw) AS mw, sum(mw_pos) AS mw_pos,
                   sum(mw_neg) AS mw_neg, NULL AS e, NULL AS ep, NULL AS en,
                   NULL AS completeness
            FROM f GROUP BY ALL
        ),
        s AS (SELECT {minute_of_day_sql("tod")} AS minute_of_day, * FROM ({series}))
        SELECT series, minute_of_day, {time_label_sql("minute_of_day")} AS time_of_day, mw
        FROM s ORDER BY series, minute_of_day"""
    table = run(db, sql, params, what="generation_time_of_day").cast(_TOD_SCHEMA)
    return window.annotate(table)


# -- renewable share ------------------------------------------------------------------------------

_RENEWABLE_SCHEMA = pa.schema(
    [
        column("bucket_end", pa.timestamp("us")),
        column("renewable_mwh", pa.float64()),
        column("total_mwh", pa.float64()),
        column("share_pct", pa.float64()),
        column("completeness", pa.float64()),
    ]
)


@cached(tables=_FLEET_TABLES)
def renewable_share(
    db: Database,
    *,
    region: str = NEM,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pa.Table:
    """Renewable share of generation per bucket, for the NEM or one region.

    ``share_pct`` = ``renewable_mwh`` / ``total_mwh`` x 100, where ``renewable_mwh`` = generated
    energy of wind, solar_utility, rooftop_solar, hydro, pumped_hydro and biomass
    (:data:`~nemdash.query.metadata.RENEWABLE_FUELS`) and ``total_mwh`` = generated energy of
    every fuel but batteries (rooftop PV and ``unknown`` included; imports excluded). Generated
    energy is the generating part (MW > 0): pumped hydro's generation counts as hydro, its pumping
    is not subtracted. Over several buckets, the share is sum(renewable_mwh) / sum(total_mwh).
    ``completeness`` as in :func:`generation_mix`.
    """
    chosen = check_region(region)
    plan = plan_series(start, end, resolution, max_points)
    params: dict[str, Any] = {
        "renewable": list(RENEWABLE_FUELS),
        "storage": list(STORAGE_FUELS),
    }
    fleet = fleet_rows(db, plan, params, region=chosen)
    sql = f"""
        WITH f AS ({_fleet_per_bucket(plan, fleet)}),
        g AS (
            SELECT bucket_end,
                   coalesce(sum(ep) FILTER (WHERE list_contains($renewable, fuel)), 0)
                       AS renewable_mwh,
                   coalesce(sum(ep) FILTER (WHERE NOT list_contains($storage, fuel)), 0)
                       AS total_mwh,
                   min(covered_s / {plan.seconds_sql("bucket_end")}) AS completeness
            FROM f GROUP BY bucket_end
        )
        SELECT bucket_end, renewable_mwh, total_mwh,
               CASE WHEN total_mwh > 0 THEN 100 * renewable_mwh / total_mwh END AS share_pct,
               completeness
        FROM g ORDER BY bucket_end"""
    return plan.annotate(run(db, sql, params, what="renewable_share").cast(_RENEWABLE_SCHEMA))


__all__ = [
    "CAPACITY_BASIS",
    "EXPORTS",
    "IMPORTS",
    "capacity_utilisation",
    "fleet_rows",
    "generation_mix",
    "generation_stats",
    "generation_time_of_day",
    "renewable_share",
]
