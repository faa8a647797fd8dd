"""Price questions: latest prices, series, statistics, bands, time of day, high-price events.

Prices are the regional reference price (RRP, $/MWh) of ``dispatch_price`` rows with
``intervention = 0`` (an intervention pricing run adds a second row per region; the market price
is the one without it; NEM-FACTS, "Keys"). Before five-minute settlement (2021-10-01) the price
that *settled* the market was the 30-minute trading price, the mean of six dispatch prices; the
functions here describe the 5-minute dispatch price, whose 30-minute mean is that trading price.
Generation-weighted prices come from the fuel rollups, which do use the settlement price.

Times are NEM time (UTC+10), period-ending: the interval ending 14:05 covers 14:00-14:05, and a
range ``(start, end]`` holds the intervals ending after ``start`` up to and including ``end``.
Every interval is 5 minutes long, so a time-weighted mean is the plain mean of the intervals.

Which data each function reads (see :mod:`nemdash.query.metadata` for series and windows):

* :func:`price_series`: 5-minute ``dispatch_price`` or the ``price_30m``/``price_day`` rollups,
  by the point budget. :func:`price_stats`: the price and fuel rollups over the range widened to
  whole half hours. :func:`price_time_of_day` at 30 minutes: ``price_30m``.
* :func:`latest_prices`, :func:`price_bands`, :func:`high_price_events` and 5-minute
  :func:`price_time_of_day` need each interval's price, so they read ``dispatch_price`` over
  exactly the range: five regions x 105,120 intervals a year, about 1 % of the SCADA rows, and
  time-sorted files let the range filter skip the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from nemdash.errors import QueryError
from nemdash.query.cache import cached
from nemdash.query.connection import Database
from nemdash.query.metadata import (
    FIVE_MINUTE_SECONDS,
    SeriesPlan,
    check_count,
    check_number,
    check_range,
    check_regions,
    check_time,
    column,
    minute_of_day_sql,
    plan_series,
    plan_window,
    run,
    scan,
    time_span,
    with_range,
)
from nemdash.query.resolution import DEFAULT_MAX_POINTS, Grain, Resolution

log = logging.getLogger(__name__)

#: The price band edges users look at ($/MWh): below 0, 0-300, 300-1,000, above 1,000.
#: A price equal to an edge belongs to the lower band (0 is in 0-300, 300 in 0-300).
PRICE_BANDS: Final[tuple[tuple[str, float | None, float | None], ...]] = (
    ("below_0", None, 0.0),
    ("0_to_300", 0.0, 300.0),
    ("300_to_1000", 300.0, 1000.0),
    ("above_1000", 1000.0, None),
)
#: The price above which an interval is flagged high (and the default event threshold).
HIGH_PRICE: Final = 300.0

_PRICE_TABLES = ("dispatch_price", "dispatch_regionsum", "price_30m", "price_day")


# -- sources shared with the generation mix -------------------------------------------------------


def price_rows(
    db: Database, plan: SeriesPlan, params: dict[str, Any], *, regions_param: str = "regions"
) -> str:
    """Price rows of the plan's grain in ``(low, high]`` for ``$regions``, uniform columns.

    Columns: ``b`` (stored time), ``regionid``, ``rrp_sum``, ``rrp_count``, ``rrp_min``,
    ``rrp_max``, ``rrp_x_totaldemand_sum``, ``priced_totaldemand_sum``, ``covered_s`` (seconds
    of the intervals present). At the 5-minute grain each interval is one row; the demand join
    follows the price rollup (``dispatch_regionsum``, intervention 0).
    """
    params["lo"], params["hi"] = plan.low, plan.high
    if plan.grain is Grain.FIVE_MINUTE:
        prices = scan(db, "dispatch_price", plan.low, plan.high)
        demand = scan(db, "dispatch_regionsum", plan.low, plan.high)
        return f"""
            SELECT p.settlementdate AS b, p.regionid, p.rrp AS rrp_sum,
                   CAST(1 AS BIGINT) AS rrp_count, p.rrp AS rrp_min, p.rrp AS rrp_max,
                   p.rrp * d.totaldemand AS rrp_x_totaldemand_sum,
                   d.totaldemand AS priced_totaldemand_sum,
                   {FIVE_MINUTE_SECONDS} AS covered_s
            FROM {prices} p
            LEFT JOIN (
                SELECT settlementdate, regionid, totaldemand FROM {demand}
                WHERE intervention = 0 AND settlementdate > $lo AND settlementdate <= $hi
            ) d ON d.settlementdate = p.settlementdate AND d.regionid = p.regionid
            WHERE p.intervention = 0 AND p.rrp IS NOT NULL
              AND p.settlementdate > $lo AND p.settlementdate <= $hi
              AND list_contains(${regions_param}, p.regionid)"""
    return f"""
        SELECT bucket_end AS b, regionid, rrp_sum, rrp_count, rrp_min, rrp_max,
               rrp_x_totaldemand_sum, priced_totaldemand_sum,
               rrp_count * {FIVE_MINUTE_SECONDS} AS covered_s
        FROM {scan(db, f"price_{plan.grain_name}", plan.low, plan.high)}
        WHERE bucket_end > $lo AND bucket_end <= $hi AND rrp_count > 0
          AND list_contains(${regions_param}, regionid)"""


# -- latest ---------------------------------------------------------------------------------------

_LATEST_SCHEMA = pa.schema(
    [
        column("regionid", pa.string()),
        column("interval_end", pa.timestamp("us")),
        column("rrp", pa.float64()),
        column("negative", pa.bool_()),
        column("above_300", pa.bool_()),
        column("rrp_avg_1h", pa.float64()),
        column("intervals_1h", pa.int64()),
        column("rrp_avg_24h", pa.float64()),
        column("intervals_24h", pa.int64()),
    ]
)


@cached(tables=("dispatch_price",))
def latest_prices(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    intervals: int = 12,
    at: datetime | None = None,
) -> pa.Table:
    """The last ``intervals`` prices per region up to ``at``, with 1 h and 24 h averages.

    ``at`` (aware; default: the latest interval in the store) is the end of the last interval.
    ``rrp_avg_1h`` = mean RRP of the 12 intervals ending in ``(at - 1 h, at]``, ``rrp_avg_24h``
    of the 288 in ``(at - 24 h, at]`` (time-weighted: every interval lasts 5 minutes);
    ``intervals_*`` say how many were present. ``negative``: RRP < 0; ``above_300``: RRP > $300.
    One row per region and interval, oldest first within a region.
    """
    chosen = check_regions(regions)
    check_count("intervals", intervals, 1, 2016)
    if at is None:
        span = time_span(db, "dispatch_price")  # from the manifest: no data scan
        if span is None:
            return _LATEST_SCHEMA.empty_table()
        anchor = span[1]
    else:
        anchor = check_time("at", at)
    since = anchor - max(timedelta(hours=24), intervals * timedelta(minutes=5))
    params = {
        "regions": list(chosen),
        "lo": since,
        "hi": anchor,
        "h1": anchor - timedelta(hours=1),
        "h24": anchor - timedelta(hours=24),
        "n": intervals,
        "high": HIGH_PRICE,
    }
    sql = f"""
        WITH p AS (
            SELECT regionid, settlementdate, rrp FROM {scan(db, "dispatch_price", since, anchor)}
            WHERE intervention = 0 AND rrp IS NOT NULL
              AND settlementdate > $lo AND settlementdate <= $hi
              AND list_contains($regions, regionid)
        ),
        s AS (
            SELECT regionid,
                   avg(rrp) FILTER (WHERE settlementdate > $h1) AS rrp_avg_1h,
                   count(*) FILTER (WHERE settlementdate > $h1) AS intervals_1h,
                   avg(rrp) FILTER (WHERE settlementdate > $h24) AS rrp_avg_24h,
                   count(*) FILTER (WHERE settlementdate > $h24) AS intervals_24h
            FROM p GROUP BY regionid
        ),
        r AS (
            SELECT *, row_number() OVER (PARTITION BY regionid ORDER BY settlementdate DESC) AS k
            FROM p
        )
        SELECT r.regionid, r.settlementdate AS interval_end, r.rrp,
               r.rrp < 0 AS negative, r.rrp > $high AS above_300,
               s.rrp_avg_1h, s.intervals_1h, s.rrp_avg_24h, s.intervals_24h
        FROM r JOIN s USING (regionid)
        WHERE r.k <= $n
        ORDER BY r.regionid, interval_end"""
    table = run(db, sql, params, what="latest_prices").cast(_LATEST_SCHEMA)
    return with_range(table, since, anchor)


# -- series ---------------------------------------------------------------------------------------

_SERIES_SCHEMA = pa.schema(
    [
        column("bucket_end", pa.timestamp("us")),
        column("regionid", pa.string()),
        column("rrp_mean", pa.float64()),
        column("rrp_min", pa.float64()),
        column("rrp_max", pa.float64()),
        column("intervals", pa.int64()),
        column("completeness", pa.float64()),
    ]
)


@cached(tables=_PRICE_TABLES)
def price_series(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> pa.Table:
    """RRP per bucket and region: mean, min and max, at a resolution fitting ``max_points``.

    ``rrp_mean`` = sum of RRP / number of intervals present (the rollups' ``rrp_sum /
    rrp_count``, summed over the stored rows of the bucket first, never an average of averages);
    ``rrp_min``/``rrp_max`` the lowest and highest 5-minute RRP; ``intervals`` the intervals
    present; ``completeness`` = intervals / intervals the whole bucket holds (6 per half hour,
    288 per day, 8,928 for a 31-day month). The resolution and the effective range are in the
    schema metadata (``nemdash.resolution``, ``nemdash.start``, ``nemdash.end``).
    """
    chosen = check_regions(regions)
    plan = plan_series(start, end, resolution, max_points)
    params: dict[str, Any] = {"regions": list(chosen)}
    source = price_rows(db, plan, params)
    bucket = plan.bucket_sql("b")
    sql = f"""
        WITH g AS (
            SELECT {bucket} AS bucket_end, regionid,
                   sum(rrp_sum) / sum(rrp_count) AS rrp_mean,
                   min(rrp_min) AS rrp_min, max(rrp_max) AS rrp_max,
                   CAST(sum(rrp_count) AS BIGINT) AS intervals,
                   sum(covered_s) AS covered_s
            FROM ({source}) GROUP BY ALL
        )
        SELECT bucket_end, regionid, rrp_mean, rrp_min, rrp_max, intervals,
               covered_s / {plan.seconds_sql("bucket_end")} AS completeness
        FROM g ORDER BY bucket_end, regionid"""
    return plan.annotate(run(db, sql, params, what="price_series").cast(_SERIES_SCHEMA))


# -- statistics -----------------------------------------------------------------------------------

_STATS_SCHEMA = pa.schema(
    [
        column("regionid", pa.string()),
        column("intervals", pa.int64()),
        column("expected_intervals", pa.int64()),
        column("completeness", pa.float64()),
        column("rrp_mean", pa.float64()),
        column("rrp_min", pa.float64()),
        column("rrp_max", pa.float64()),
        column("rrp_std", pa.float64()),
        column("negative_intervals", pa.int64()),
        column("above_300_intervals", pa.int64()),
        column("above_1000_intervals", pa.int64()),
        column("generation_weighted_rrp", pa.float64()),
        column("load_weighted_rrp", pa.float64()),
    ]
)


@cached(tables=("price_30m", "price_day", "fuel_30m", "fuel_day"))
def price_stats(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    start: datetime,
    end: datetime,
) -> pa.Table:
    """Price statistics per region over the range (widened to whole half hours).

    * ``rrp_mean``: time-weighted ("flat load") price = sum(RRP) / intervals.
    * ``rrp_std``: population standard deviation = sqrt(sum(RRP²) / n - mean²).
    * ``rrp_min``, ``rrp_max``; ``negative_intervals`` (RRP < 0), ``above_300_intervals``
      (RRP > $300), ``above_1000_intervals`` (RRP > $1,000).
    * ``load_weighted_rrp`` = sum(RRP x TOTALDEMAND) / sum(TOTALDEMAND), over intervals with both.
    * ``generation_weighted_rrp`` = revenue / energy of the region's generation (the fuel
      rollups' generating part, rooftop PV included: sum of MW x h x spot price / sum of MW x h;
      the spot price is the settlement price, 30-minute before 2021-10-01).
    * ``completeness`` = intervals with a price / ``expected_intervals`` (12 per hour).
    The effective range is in the schema metadata.
    """
    chosen = check_regions(regions)
    window = plan_window(start, end)
    params: dict[str, Any] = {"regions": list(chosen), "expected": window.intervals}
    where = "list_contains($regions, regionid)"
    prices = window.rows(
        db,
        "price",
        "regionid, rrp_sum, rrp_count, rrp_min, rrp_max, rrp_sumsq, rrp_negative_count, "
        "rrp_above_300_count, rrp_above_1000_count, rrp_x_totaldemand_sum, priced_totaldemand_sum",
        params,
        where=where,
        prefix="p",
    )
    generation = window.rows(
        db, "fuel", "regionid, revenue_pos, energy_pos_mwh", params, where=where, prefix="f"
    )
    sql = f"""
        WITH p AS (
            SELECT regionid, sum(rrp_sum) AS s, sum(rrp_count) AS n, min(rrp_min) AS lo,
                   max(rrp_max) AS hi, sum(rrp_sumsq) AS sq,
                   sum(rrp_negative_count) AS neg, sum(rrp_above_300_count) AS a300,
                   sum(rrp_above_1000_count) AS a1000,
                   sum(rrp_x_totaldemand_sum) AS pd, sum(priced_totaldemand_sum) AS d
            FROM ({prices}) GROUP BY regionid
        ),
        g AS (
            SELECT regionid, sum(revenue_pos) AS revenue, sum(energy_pos_mwh) AS energy
            FROM ({generation}) GROUP BY regionid
        ),
        r AS (SELECT unnest($regions) AS regionid)
        SELECT r.regionid, CAST(coalesce(p.n, 0) AS BIGINT) AS intervals,
               CAST($expected AS BIGINT) AS expected_intervals,
               coalesce(p.n, 0) / $expected AS completeness,
               p.s / p.n AS rrp_mean, p.lo AS rrp_min, p.hi AS rrp_max,
               sqrt(greatest(p.sq / p.n - (p.s / p.n) ^ 2, 0)) AS rrp_std,
               CAST(coalesce(p.neg, 0) AS BIGINT) AS negative_intervals,
               CAST(coalesce(p.a300, 0) AS BIGINT) AS above_300_intervals,
               CAST(coalesce(p.a1000, 0) AS BIGINT) AS above_1000_intervals,
               CASE WHEN g.energy > 0 THEN g.revenue / g.energy END AS generation_weighted_rrp,
               CASE WHEN p.d > 0 THEN p.pd / p.d END AS load_weighted_rrp
        FROM r LEFT JOIN p USING (regionid) LEFT JOIN g USING (regionid)
        ORDER BY r.regionid"""
    return window.annotate(run(db, sql, params, what="price_stats").cast(_STATS_SCHEMA))


# -- bands ----------------------------------------------------------------------------------------

_BANDS_SCHEMA = pa.schema(
    [
        column("regionid", pa.string()),
        column("band", pa.string()),
        column("lower", pa.float64()),
        column("upper", pa.float64()),
        column("intervals", pa.int64()),
        column("time_share_pct", pa.float64()),
        column("rrp_mean", pa.float64()),
        column("contribution", pa.float64()),
    ]
)


@cached(tables=("dispatch_price",))
def price_bands(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    start: datetime,
    end: datetime,
) -> pa.Table:
    """Share of time, mean price and contribution to the mean of each price band, per region.

    Bands (:data:`PRICE_BANDS`): ``below_0`` (RRP < 0), ``0_to_300`` (0 <= RRP <= 300),
    ``300_to_1000`` (300 < RRP <= 1,000), ``above_1000`` (RRP > 1,000). Over the intervals
    of exactly ``(start, end]`` with a price (n in all): ``time_share_pct`` = band intervals / n
    x 100 (the four sum to 100); ``rrp_mean`` = mean RRP within the band (NULL if empty);
    ``contribution`` ($/MWh) = sum of the band's RRP / n, so the four contributions add up to the
    time-weighted mean price of the range.
    """
    chosen = check_regions(regions)
    low, high = check_range(start, end)
    # The band edges, from PRICE_BANDS: 0, 300, 1000 (an edge belongs to the band below it).
    edges = [upper for _, _, upper in PRICE_BANDS if upper is not None]
    params = {"regions": list(chosen), "lo": low, "hi": high, "edges": edges}
    sql = f"""
        SELECT regionid,
               CASE WHEN rrp < ($edges)[1] THEN 0 WHEN rrp <= ($edges)[2] THEN 1
                    WHEN rrp <= ($edges)[3] THEN 2 ELSE 3 END AS band,
               count(*) AS n, sum(rrp) AS s
        FROM {scan(db, "dispatch_price", low, high)}
        WHERE intervention = 0 AND rrp IS NOT NULL
          AND settlementdate > $lo AND settlementdate <= $hi
          AND list_contains($regions, regionid)
        GROUP BY ALL"""
    found: dict[tuple[str, int], tuple[int, float]] = {
        (r["regionid"], r["band"]): (r["n"], r["s"])
        for r in run(db, sql, params, what="price_bands").to_pylist()
    }
    rows = []
    for region in chosen:
        total = sum(found.get((region, i), (0, 0.0))[0] for i in range(len(PRICE_BANDS)))
        for i, (band, lower, upper) in enumerate(PRICE_BANDS):
            n, s = found.get((region, i), (0, 0.0))
            rows.append(
                {
                    "regionid": region,
                    "band": band,
                    "lower": lower,
                    "upper": upper,
                    "intervals": n,
                    "time_share_pct": 100.0 * n / total if total else None,
                    "rrp_mean": s / n if n else None,
                    "contribution": s / total if total else None,
                }
            )
    return with_range(pa.Table.from_pylist(rows, schema=_BANDS_SCHEMA), low, high)


# -- time of day ----------------------------------------------------------------------------------

_TOD_SCHEMA = pa.schema(
    [
        column("regionid", pa.string()),
        column("minute_of_day", pa.int64()),
        column("time_of_day", pa.string()),
        column("rrp_mean", pa.float64()),
        column("rrp_min", pa.float64()),
        column("rrp_max", pa.float64()),
        column("intervals", pa.int64()),
    ]
)


def time_label_sql(minutes: str) -> str:
    """``HH:MM`` of a period-ending minute of day, 1440 shown as ``24:00``."""
    return f"printf('%02d:%02d', ({minutes}) // 60, ({minutes}) % 60)"


@cached(tables=("dispatch_price", "price_30m"))
def price_time_of_day(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    start: datetime,
    end: datetime,
    step_minutes: int = 30,
) -> pa.Table:
    """Mean, min and max RRP by time of day (5- or 30-minute steps), per region.

    Period-ending: ``minute_of_day`` 30 (``time_of_day`` ``00:30``) is the half hour 00:00-00:30
    and 1440 (``24:00``) the one ending at midnight. ``rrp_mean`` = sum of RRP / intervals over
    every day of the range. At 30 minutes it reads the ``price_30m`` rollup over the range widened
    to whole half hours; at 5 minutes ``dispatch_price`` over exactly ``(start, end]``.
    """
    chosen = check_regions(regions)
    if step_minutes not in (5, 30):
        raise QueryError(f"step_minutes must be 5 or 30, got {step_minutes!r}")
    params: dict[str, Any] = {"regions": list(chosen)}
    if step_minutes == 5:
        low, high = check_range(start, end)
        params.update(lo=low, hi=high)
        source = f"""
            SELECT settlementdate AS b, regionid, rrp AS rrp_sum, CAST(1 AS BIGINT) AS rrp_count,
                   rrp AS rrp_min, rrp AS rrp_max
            FROM {scan(db, "dispatch_price", low, high)}
            WHERE intervention = 0 AND rrp IS NOT NULL
              AND settlementdate > $lo AND settlementdate <= $hi
              AND list_contains($regions, regionid)"""
    else:
        window = plan_window(start, end)
        low, high = window.start, window.end
        source = window.rows(
            db,
            "price",
            "bucket_end AS b, regionid, rrp_sum, rrp_count, rrp_min, rrp_max",
            params,
            where="list_contains($regions, regionid) AND rrp_count > 0",
            grains=("30m",),
        )
    # Grouped on the clock time (cheaper than computing minutes on every row), named after.
    sql = f"""
        WITH g AS (
            SELECT regionid, {minute_of_day_sql("tod")} AS minute_of_day, * EXCLUDE (regionid)
            FROM (
                SELECT regionid, CAST(b AS TIME) AS tod,
                       sum(rrp_sum) / sum(rrp_count) AS rrp_mean, min(rrp_min) AS rrp_min,
                       max(rrp_max) AS rrp_max, CAST(sum(rrp_count) AS BIGINT) AS intervals
                FROM ({source}) GROUP BY ALL
            )
        )
        SELECT regionid, minute_of_day, {time_label_sql("minute_of_day")} AS time_of_day,
               rrp_mean, rrp_min, rrp_max, intervals
        FROM g ORDER BY regionid, minute_of_day"""
    table = run(db, sql, params, what="price_time_of_day").cast(_TOD_SCHEMA)
    return with_range(table, low, high, step_minutes=str(step_minutes))


# -- high-price events ----------------------------------------------------------------------------

_EVENTS_SCHEMA = pa.schema(
    [
        column("regionid", pa.string()),
        column("event_start", pa.timestamp("us")),
        column("event_end", pa.timestamp("us")),
        column("intervals", pa.int64()),
        column("duration_minutes", pa.int64()),
        column("peak_rrp", pa.float64()),
        column("peak_interval_end", pa.timestamp("us")),
        column("mean_rrp", pa.float64()),
    ]
)


@cached(tables=("dispatch_price",))
def high_price_events(
    db: Database,
    *,
    regions: str | Sequence[str] | None = None,
    start: datetime,
    end: datetime,
    threshold: float = HIGH_PRICE,
    min_intervals: int = 1,
) -> pa.Table:
    """Runs of consecutive 5-minute intervals with RRP > ``threshold``, per region.

    A run is broken by an interval at or below the threshold, or by a missing interval. Each
    event: ``event_start`` = start of its first interval (its end - 5 min), ``event_end`` = end
    of its last interval, ``intervals``, ``duration_minutes`` = intervals x 5, ``peak_rrp`` and
    when it happened (``peak_interval_end``, the first if tied), ``mean_rrp`` (time-weighted).
    Only runs of at least ``min_intervals`` are kept; runs are cut at the range's edges. In time
    order.
    """
    chosen = check_regions(regions)
    low, high = check_range(start, end)
    limit = check_number("threshold", threshold)
    check_count("min_intervals", min_intervals, 1, 1_000_000)
    params = {
        "regions": list(chosen),
        "lo": low,
        "hi": high,
        "threshold": limit,
        "min_intervals": min_intervals,
    }
    sql = f"""
        WITH p AS (
            SELECT regionid, settlementdate AS t, rrp FROM {scan(db, "dispatch_price", low, high)}
            WHERE intervention = 0 AND rrp > $threshold
              AND settlementdate > $lo AND settlementdate <= $hi
              AND list_contains($regions, regionid)
        ),
        runs AS (
            SELECT *, CAST(epoch(t) AS BIGINT)
                      - {FIVE_MINUTE_SECONDS} * row_number() OVER (PARTITION BY regionid ORDER BY t)
                      AS run_key
            FROM p
        )
        SELECT regionid, min(t) - INTERVAL 5 MINUTE AS event_start, max(t) AS event_end,
               count(*) AS intervals, count(*) * 5 AS duration_minutes, max(rrp) AS peak_rrp,
               arg_max(t, (rrp, -epoch(t))) AS peak_interval_end, avg(rrp) AS mean_rrp
        FROM runs GROUP BY regionid, run_key
        HAVING count(*) >= $min_intervals
        ORDER BY event_start, regionid"""
    table = run(db, sql, params, what="high_price_events").cast(_EVENTS_SCHEMA)
    return with_range(table, low, high, threshold=repr(limit))


__all__ = [
    "HIGH_PRICE",
    "PRICE_BANDS",
    "high_price_events",
    "latest_prices",
    "price_bands",
    "price_rows",
    "price_series",
    "price_stats",
    "price_time_of_day",
]
