"""Interconnector flows and limits, from AEMO's point of view or from one region's.

AEMO's sign (NEM-FACTS, "Regions, units, signs"): positive flow runs from the first-named region
to the second: NSW1-QLD1 and N-Q-MNSP1 (Terranora) NSW to QLD, VIC1-NSW1 VIC to NSW, V-SA
(Heywood) and V-S-MNSP1 (Murraylink) VIC to SA, T-V-MNSP1 (Basslink) TAS to VIC. ``exportlimit``
bounds the flow in the positive direction and ``importlimit`` (usually negative) in the other.

From a region's point of view the sign is turned so that **positive is an import into the
region**: the flow of an interconnector whose second-named region is the region is kept, that of
one whose first-named region it is is negated. The limits follow: ``import_limit_mw`` is the most
that may flow into the region and ``export_limit_mw`` the most that may flow out (both positive
when the link can carry power that way), so the flow stays within
``[-export_limit_mw, import_limit_mw]``. Without a region, each interconnector is seen from its
second-named region, i.e. AEMO's own sign.

Flows are the measured ``meteredmwflow`` (``mwflow``, the dispatch target, is given too) of rows
with ``intervention = 0``, read from the 5-minute ``interconnector_flow`` table or the
``interconnector_30m``/``interconnector_day`` rollups by the point budget (see
:mod:`nemdash.query.metadata`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from nemdash.errors import QueryError
from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.metadata import (
    FIVE_MINUTE_SECONDS,
    SeriesPlan,
    check_region,
    column,
    plan_series,
    run,
    scan,
)
from nemdash.query.resolution import DEFAULT_MAX_POINTS, Grain, Resolution

log = logging.getLogger(__name__)

#: Each interconnector's (first-named, second-named) region: positive flow runs first to second.
INTERCONNECTORS: Final[Mapping[str, tuple[str, str]]] = {
    "NSW1-QLD1": ("NSW1", "QLD1"),
    "N-Q-MNSP1": ("NSW1", "QLD1"),
    "VIC1-NSW1": ("VIC1", "NSW1"),
    "V-SA": ("VIC1", "SA1"),
    "V-S-MNSP1": ("VIC1", "SA1"),
    "T-V-MNSP1": ("TAS1", "VIC1"),
}


def signs_for(region: str | None) -> dict[str, int]:
    """Interconnectors seen from ``region`` and the factor that makes an import positive.

    None: every interconnector, seen from its second-named region (AEMO's sign, factor 1).
    """
    if region is None:
        return dict.fromkeys(INTERCONNECTORS, 1)
    signs = {}
    for name, (first, second) in INTERCONNECTORS.items():
        if region == second:
            signs[name] = 1
        elif region == first:
            signs[name] = -1
    return signs


def flow_rows(
    db: Database, plan: SeriesPlan, params: dict[str, Any], *, ids_param: str = "ics"
) -> str:
    """Flow rows of the plan's grain in ``(low, high]`` for the interconnectors in ``$ics``.

    Uniform columns: ``b``, ``interconnectorid``, ``flow_sum``/``flow_count``/``flow_min``/
    ``flow_max`` (metered MW), ``mwflow_sum``/``mwflow_count``, ``exportlimit_sum``/``_count``,
    ``importlimit_sum``/``_count`` and ``covered_s`` (seconds of the intervals with a flow).
    """
    params["lo"], params["hi"] = plan.low, plan.high
    if plan.grain is Grain.FIVE_MINUTE:

        def one(column: str) -> str:
            return f"CAST({column} IS NOT NULL AS BIGINT)"

        return f"""
            SELECT settlementdate AS b, interconnectorid,
                   meteredmwflow AS flow_sum, {one("meteredmwflow")} AS flow_count,
                   meteredmwflow AS flow_min, meteredmwflow AS flow_max,
                   mwflow AS mwflow_sum, {one("mwflow")} AS mwflow_count,
                   exportlimit AS exportlimit_sum, {one("exportlimit")} AS exportlimit_count,
                   importlimit AS importlimit_sum, {one("importlimit")} AS importlimit_count,
                   {one("meteredmwflow")} * {FIVE_MINUTE_SECONDS} AS covered_s
            FROM {scan(db, "interconnector_flow", plan.low, plan.high)}
            WHERE intervention = 0 AND settlementdate > $lo AND settlementdate <= $hi
              AND list_contains(${ids_param}, interconnectorid)"""
    return f"""
        SELECT bucket_end AS b, interconnectorid,
               meteredmwflow_sum AS flow_sum, meteredmwflow_count AS flow_count,
               meteredmwflow_min AS flow_min, meteredmwflow_max AS flow_max,
               mwflow_sum, mwflow_count, exportlimit_sum, exportlimit_count,
               importlimit_sum, importlimit_count,
               meteredmwflow_count * {FIVE_MINUTE_SECONDS} AS covered_s
        FROM {scan(db, f"interconnector_{plan.grain_name}", plan.low, plan.high)}
        WHERE bucket_end > $lo AND bucket_end <= $hi
          AND list_contains(${ids_param}, interconnectorid)"""


_FLOWS_SCHEMA = pa.schema(
    [
        column("bucket_end", pa.timestamp("us")),
        column("interconnectorid", pa.string()),
        column("from_regionid", pa.string()),
        column("to_regionid", pa.string()),
        column("flow_mw", pa.float64()),
        column("flow_min_mw", pa.float64()),
        column("flow_max_mw", pa.float64()),
        column("target_mw", pa.float64()),
        column("import_limit_mw", pa.float64()),
        column("export_limit_mw", pa.float64()),
        column("intervals", pa.int64()),
        column("completeness", pa.float64()),
    ]
)


@cached(tables=("interconnector_flow", "interconnector_30m", "interconnector_day"))
def interconnector_flows(
    db: Database,
    *,
    region: str | None = None,
    interconnectors: Sequence[str] | None = None,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pa.Table:
    """Mean flow and limits per bucket and interconnector, positive = import into ``region``.

    ``flow_mw`` = sign x sum(metered MW) / intervals with a flow (sign +1 when ``region`` is the
    second-named region, -1 when it is the first-named; see the module docstring);
    ``flow_min_mw``/``flow_max_mw`` the lowest and highest 5-minute flow in that sign;
    ``target_mw`` the same mean of the dispatch target ``mwflow``; ``import_limit_mw`` and
    ``export_limit_mw`` the means of the limits turned to the region's view (flow within
    ``[-export_limit_mw, import_limit_mw]``); ``from_regionid``/``to_regionid`` AEMO's naming;
    ``completeness`` = intervals / intervals the whole bucket holds. ``region`` None: AEMO's
    sign. ``interconnectors`` narrows the list (default: all touching the region).
    """
    chosen = None if region is None else check_region(region, allow_nem=False)
    signs = signs_for(chosen)
    if interconnectors is not None:
        wanted = [interconnectors] if isinstance(interconnectors, str) else list(interconnectors)
        unknown = [i for i in wanted if i not in signs]
        if unknown or not wanted:
            raise QueryError(
                f"unknown interconnector(s) {unknown or wanted!r}"
                + (f" for region {chosen}" if chosen else "")
                + f"; use one of {', '.join(signs)}"
            )
        signs = {i: s for i, s in signs.items() if i in wanted}
    plan = plan_series(start, end, resolution, max_points)
    ids = list(signs)
    params: dict[str, Any] = {
        "ics": ids,
        "signs": [signs[i] for i in ids],
        "firsts": [INTERCONNECTORS[i][0] for i in ids],
        "seconds": [INTERCONNECTORS[i][1] for i in ids],
    }
    source = flow_rows(db, plan, params)
    position = "list_position($ics, interconnectorid)"
    sql = f"""
        WITH g AS (
            SELECT {plan.bucket_sql("b")} AS bucket_end, interconnectorid,
                   sum(flow_sum) / sum(flow_count) AS flow, min(flow_min) AS flow_min,
                   max(flow_max) AS flow_max, sum(mwflow_sum) / sum(mwflow_count) AS target,
                   sum(exportlimit_sum) / sum(exportlimit_count) AS exportlimit,
                   sum(importlimit_sum) / sum(importlimit_count) AS importlimit,
                   CAST(sum(flow_count) AS BIGINT) AS intervals, sum(covered_s) AS covered_s
            FROM ({source}) GROUP BY ALL
        ),
        s AS (SELECT *, ($signs)[{position}] AS sign FROM g)
        SELECT bucket_end, interconnectorid,
               ($firsts)[{position}] AS from_regionid, ($seconds)[{position}] AS to_regionid,
               sign * flow AS flow_mw,
               CASE WHEN sign > 0 THEN flow_min ELSE -flow_max END AS flow_min_mw,
               CASE WHEN sign > 0 THEN flow_max ELSE -flow_min END AS flow_max_mw,
               sign * target AS target_mw,
               CASE WHEN sign > 0 THEN exportlimit ELSE -importlimit END AS import_limit_mw,
               CASE WHEN sign > 0 THEN -importlimit ELSE exportlimit END AS export_limit_mw,
               intervals, covered_s / {plan.seconds_sql("bucket_end")} AS completeness
        FROM s ORDER BY bucket_end, interconnectorid"""
    table = run(db, sql, params, what="interconnector_flows").cast(_FLOWS_SCHEMA)
    return plan.annotate(table)


__all__ = ["INTERCONNECTORS", "flow_rows", "interconnector_flows", "signs_for"]
