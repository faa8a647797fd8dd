"""The rollup tables: one :class:`RollupSpec` per pre-aggregated table that the charts read.

Rollups live in the lake beside AEMO's tables (month partitions, upserted by key, published
atomically, versioned with the data) and can always be rebuilt from it (:mod:`nemdash.store.rollups`
computes them). This module only declares them, so that the lake and the query layer can know
their schemas without importing the code that computes them.

Grains (times are naive NEM time, UTC+10, period-ending, like every time in the lake):

* ``5m`` (the ``fuel`` family only): one row per 5-minute interval, region and fuel, so that a
  5-minute generation mix reads ~40 rows an interval instead of ~500 units' SCADA. Rooftop PV,
  half-hourly, gives each 5-minute interval the value of the half hour it is in (the half hour
  ending 14:30 for the intervals ending 14:05 .. 14:30), as the 5-minute chart draws it.

* ``30m``: the bucket ending 14:30 (``bucket_end``) holds the six 5-minute intervals ending
  14:05 .. 14:30, and the half-hourly rooftop PV value ending 14:30.
* ``day``: a calendar day, the 288 intervals ending 00:05 .. 24:00 (the next day's 00:00).
  ``bucket_end`` is the day's end, the next midnight, and ``day`` its label: the bucket with
  ``bucket_end`` 2019-05-17 00:00 is ``day`` 2019-05-16. (Not the market day, 04:05 .. 04:00.)
  As for every lake table, the month partition follows ``bucket_end``: the last day of January is
  stored in ``month=YYYY-02``.

Every measure keeps ``_sum``, ``_count``, ``_min`` and ``_max`` (so that averages, sum / count,
and envelopes survive any re-aggregation) and every row ``expected``: the intervals the bucket
should hold (6 per half hour and 288 per day for 5-minute data; 1 and 48 for half-hourly rooftop
PV). ``completeness = count / expected`` shows partial buckets (5 of 6 intervals: 5/6). A 30-minute
value is the **mean** of the intervals present (``sum / count``), not their sum, not sum / 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import pyarrow as pa

from nemdash.tables import FLOAT, INT, TEXT, TIMESTAMP, Column, TableSpec

DATE = pa.date32()

#: The rollup families, each with a ``30m`` and a ``day`` table named ``<family>_<grain>``.
FAMILIES: Final = ("price", "unit", "fuel", "interconnector")
#: The grains and their bucket length.
GRAINS: Final = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "day": timedelta(days=1),
}
#: Families also kept at the ``5m`` grain: the fleet per region and fuel (``fuel_5m``), which a
#: 5-minute generation mix would otherwise sum from ~500 units' SCADA rows per interval.
FIVE_MINUTE_FAMILIES: Final = ("fuel",)
#: 5-minute intervals a bucket should hold, per grain.
EXPECTED_5MIN: Final = {"5m": 1, "30m": 6, "day": 288}
#: Half-hourly (rooftop PV) values a bucket should hold, per grain (a 5-minute bucket carries the
#: value of the half hour it is in).
EXPECTED_30MIN: Final = {"5m": 1, "30m": 1, "day": 48}
#: Fuel of rooftop PV in the fuel rollups (``rooftop_pv`` regions, never its sub-regions).
ROOFTOP_FUEL: Final = "rooftop_solar"
#: Region and fuel of units the DUID registry does not know (or knows without a region).
UNKNOWN: Final = "unknown"


@dataclass(frozen=True)
class RollupSpec(TableSpec):
    """A rollup table: a :class:`TableSpec` (name, columns, key, time column) plus its grain."""

    family: str = ""
    """``price``, ``unit``, ``fuel`` or ``interconnector``."""
    grain: str = ""
    """``30m`` or ``day``."""
    inputs: tuple[str, ...] = ()
    """Lake tables it is computed from: a change in one of them means recomputing buckets."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES or self.grain not in GRAINS:
            raise ValueError(f"{self.name}: unknown family {self.family!r} or grain {self.grain!r}")


def _measure(name: str, unit: str, what: str, *, minmax: bool = True) -> tuple[Column, ...]:
    """``<name>_sum``, ``_count`` (and ``_min``, ``_max``) of a measure over the bucket."""
    cols = [
        Column(f"{name}_sum", FLOAT, f"Sum of {what} over the intervals present, {unit}"),
        Column(f"{name}_count", INT, f"Intervals with a {what} value"),
    ]
    if minmax:
        cols += [
            Column(f"{name}_min", FLOAT, f"Lowest {what}, {unit}"),
            Column(f"{name}_max", FLOAT, f"Highest {what}, {unit}"),
        ]
    return tuple(cols)


def _head(grain: str) -> tuple[Column, ...]:
    bucket = Column(
        "bucket_end",
        TIMESTAMP,
        "End of the bucket (NEM time, period-ending): 14:30 holds 14:05..14:30; a day ends at "
        "the next midnight",
    )
    if grain == "day":
        return (bucket, Column("day", DATE, "Calendar day of the bucket (intervals 00:05..24:00)"))
    return (bucket,)


_EXPECTED = Column("expected", INT, "Intervals the bucket should hold: completeness = count / this")

_PRICE = (
    *_measure("rrp", "$/MWh", "regional reference price (dispatch_price, intervention 0)"),
    Column("rrp_sumsq", FLOAT, "Sum of rrp squared (variance = sumsq/count - mean^2)"),
    Column("rrp_negative_count", INT, "Intervals with rrp < 0"),
    Column("rrp_above_300_count", INT, "Intervals with rrp > 300 $/MWh"),
    Column("rrp_above_1000_count", INT, "Intervals with rrp > 1,000 $/MWh"),
    *_measure("totaldemand", "MW", "total demand (dispatch_regionsum, intervention 0)"),
    Column(
        "rrp_x_totaldemand_sum",
        FLOAT,
        "Sum of rrp x totaldemand, $/h: load-weighted price = this / priced_totaldemand_sum",
    ),
    Column("priced_totaldemand_sum", FLOAT, "Sum of totaldemand over intervals with an rrp, MW"),
)

_UNIT = (
    Column("regionid", TEXT, "Region from duid_registry (NULL: the unit is not in it)"),
    *_measure("scadavalue", "MW", "SCADA output"),
    Column("energy_mwh", FLOAT, "Energy: sum of MW x 5/60, MWh"),
    Column("running_count", INT, "Intervals with scadavalue > 0"),
    Column(
        "revenue",
        FLOAT,
        "Sum of MW x 5/60 x spot price of the unit's region, $ (NULL when never priced)",
    ),
    Column("revenue_count", INT, "Intervals counted in revenue (region known and a price found)"),
)

_FUEL = (
    *_measure("mw", "MW", "fleet output (units summed per interval first)"),
    Column("mw_pos_sum", FLOAT, "Sum of the fleet's generating part per interval, MW"),
    Column("mw_pos_min", FLOAT, "Lowest generating part, MW"),
    Column("mw_pos_max", FLOAT, "Highest generating part, MW"),
    Column("mw_neg_sum", FLOAT, "Sum of the fleet's consuming part (charging) per interval, MW"),
    Column("mw_neg_min", FLOAT, "Deepest consuming part, MW (negative)"),
    Column("mw_neg_max", FLOAT, "Shallowest consuming part, MW"),
    Column("energy_mwh", FLOAT, "Net energy, MWh"),
    Column("energy_pos_mwh", FLOAT, "Energy generated, MWh"),
    Column("energy_neg_mwh", FLOAT, "Energy consumed, MWh (negative)"),
    Column("revenue", FLOAT, "Net revenue at the regional spot price, $"),
    Column("revenue_pos", FLOAT, "Revenue of the generating part, $"),
    Column("revenue_neg", FLOAT, "Cost of the consuming part, $ (negative at positive prices)"),
    Column(
        "capacity_mw_sum",
        FLOAT,
        "Sum over intervals of the registered capacity of the units reporting, MW "
        "(average capacity online = this / mw_count)",
    ),
    Column("capacity_mw_max", FLOAT, "Largest registered capacity reporting in one interval, MW"),
    Column(
        "running_capacity_mw_sum",
        FLOAT,
        "Sum over intervals of the registered capacity of the units with MW > 0, MW",
    ),
)

_INTERCONNECTOR = (
    *_measure("meteredmwflow", "MW", "metered flow (positive from the first-named region)"),
    *_measure("mwflow", "MW", "dispatch target flow"),
    Column("exportlimit_sum", FLOAT, "Sum of the export limit, MW"),
    Column("exportlimit_count", INT, "Intervals with an export limit"),
    Column("exportlimit_min", FLOAT, "Lowest export limit, MW"),
    Column("exportlimit_max", FLOAT, "Highest export limit, MW"),
    Column("importlimit_sum", FLOAT, "Sum of the import limit, MW"),
    Column("importlimit_count", INT, "Intervals with an import limit"),
    Column("importlimit_min", FLOAT, "Lowest import limit, MW"),
    Column("importlimit_max", FLOAT, "Highest import limit, MW"),
)

_PRICE_INPUTS = ("trading_price", "dispatch_price")
_FAMILY = {
    "price": (
        ("regionid",),
        (Column("regionid", TEXT, "NEM region"),),
        _PRICE,
        ("dispatch_price", "dispatch_regionsum"),
        "Regional prices (intervention 0) and demand",
    ),
    "unit": (
        ("duid",),
        (Column("duid", TEXT, "Dispatchable unit"),),
        _UNIT,
        ("unit_scada", *_PRICE_INPUTS, "duid_registry"),
        "Output, energy and revenue per unit",
    ),
    "fuel": (
        ("regionid", "fuel"),
        (
            Column("regionid", TEXT, "Region of the units (unknown: not in duid_registry)"),
            Column("fuel", TEXT, "Fuel from duid_registry; rooftop_solar; unknown"),
        ),
        _FUEL,
        ("unit_scada", "rooftop_pv", *_PRICE_INPUTS, "duid_registry"),
        "Fleet output, energy, revenue and capacity per region and fuel, rooftop PV included",
    ),
    "interconnector": (
        ("interconnectorid",),
        (Column("interconnectorid", TEXT, "Interconnector; flow > 0 from the first-named region"),),
        _INTERCONNECTOR,
        ("interconnector_flow",),
        "Interconnector flows (intervention 0) and limits",
    ),
}


def _spec(family: str, grain: str) -> RollupSpec:
    keys, key_columns, measures, inputs, what = _FAMILY[family]
    name = f"{family}_{grain}"
    bucket = {"5m": "5-minute interval", "30m": "half hour", "day": "calendar day"}[grain]
    return RollupSpec(
        name=name,
        report="NEMDASH",
        subtype=f"ROLLUP_{name.upper()}",
        columns=(*_head(grain), *key_columns, _EXPECTED, *measures),
        primary_key=("bucket_end", *keys),
        time_column="bucket_end",
        interval=GRAINS[grain],
        feeds=(),
        mmsdm_tables=(),
        description=f"{what}, per {bucket}",
        family=family,
        grain=grain,
        inputs=inputs,
    )


#: Every rollup table by name (``price_30m``, ``price_day``, ``unit_30m`` ...).
ROLLUP_TABLES: Final[dict[str, RollupSpec]] = {
    spec.name: spec
    for spec in (
        _spec(f, g) for f in FAMILIES for g in GRAINS if g != "5m" or f in FIVE_MINUTE_FAMILIES
    )
}


def rollup_spec(family: str, grain: str) -> RollupSpec:
    """The spec of one family at one grain; the error lists the valid names."""
    try:
        return ROLLUP_TABLES[f"{family}_{grain}"]
    except KeyError:
        raise KeyError(
            f"no rollup {family}_{grain}; families: {', '.join(FAMILIES)}; "
            f"grains: {', '.join(GRAINS)}"
        ) from None
