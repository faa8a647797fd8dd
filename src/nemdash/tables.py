"""One :class:`TableSpec` per AEMO table that nemdash keeps, in one registry.

Each spec says everything about a table in one place: the AEMO report and subtype of its ``I`` row,
the columns kept (AEMO's names in lower case, with their types), the primary key used to upsert,
the time column (NEM time, period-ending) and interval, the live feeds that carry it, and the names
of the MMSDM monthly archive files that carry it too. Both sources land in the same logical table.

Columns are read by name, never by position: schema versions differ over the years (DISPATCH,PRICE
v4 has 56 columns and v5 66; REGIONSUM v4 105 and v9 126). A column kept here but absent from an
older version is NULL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from nemdash.nemtime import FIVE_MINUTE_SETTLEMENT_START as _FIVE_MS_AWARE

TIMESTAMP = pa.timestamp("us")  # naive; the wall-clock value is NEM time (see nemtime.py)
FLOAT = pa.float64()
INT = pa.int64()
TEXT = pa.string()

#: End of the first 5-minute settled interval, as the naive NEM-time value the lake stores.
FIVE_MINUTE_SETTLEMENT_START = _FIVE_MS_AWARE.replace(tzinfo=None)

REGIONS: tuple[str, ...] = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
#: Rooftop PV sub-regions: QLDC+QLDN+QLDS = QLD1 and TASN+TASS = TAS1. Never sum them with regions.
ROOFTOP_SUBREGIONS: tuple[str, ...] = ("QLDC", "QLDN", "QLDS", "TASN", "TASS")


@dataclass(frozen=True)
class Column:
    """A kept column: AEMO's name in lower case, its Arrow type, and what it means."""

    name: str
    type: pa.DataType
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    """Everything nemdash knows about one AEMO table."""

    name: str
    """Logical table (lake folder) and stable DuckDB view name, e.g. ``dispatch_price``."""
    report: str
    """First field of the ``I`` row, e.g. ``DISPATCH``."""
    subtype: str
    """Second field of the ``I`` row, e.g. ``PRICE``."""
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    time_column: str
    interval: timedelta
    feeds: tuple[str, ...]
    """Names of the :class:`FeedSpec` (live CURRENT / daily ARCHIVE) that carry this table."""
    mmsdm_tables: tuple[str, ...]
    """Table names in MMSDM monthly archive files (``PUBLIC_DVD_<T>_...``, ``#<T>#FILEnn#``)."""
    description: str = ""
    legacy_interval: timedelta | None = None
    """The interval before five-minute settlement (2021-10-01), where it differed."""

    def interval_at(self, interval_end: datetime) -> timedelta:
        """The table's interval length at a (naive NEM-time) interval end."""
        if self.legacy_interval is not None and interval_end < FIVE_MINUTE_SETTLEMENT_START:
            return self.legacy_interval
        return self.interval

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


@dataclass(frozen=True)
class FeedSpec:
    """A NEMWEB report feed: where its live and archived files live and what they hold."""

    name: str
    current_dir: str
    """Path of the live folder below the site root, e.g. ``Reports/CURRENT/Dispatch_SCADA/``."""
    archive_dir: str
    """Path of the archive folder (a zip of zips per day, or per week for rooftop PV)."""
    file_prefixes: tuple[str, ...]
    """Upper-case prefixes of the data files, e.g. ``PUBLIC_DISPATCHSCADA_``."""
    tables: tuple[str, ...] = field(default=())
    archive_period: str = "day"
    """``day`` or ``week``: what one archive zip covers."""


def _cols(spec: str, kind: pa.DataType) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name in spec.split())


_FCAS_PRICES = _cols(
    "raise6secrrp raise60secrrp raise5minrrp raiseregrrp "
    "lower6secrrp lower60secrrp lower5minrrp lowerregrrp raise1secrrp lower1secrrp",
    FLOAT,
)

DISPATCH_PRICE = TableSpec(
    name="dispatch_price",
    report="DISPATCH",
    subtype="PRICE",
    columns=(
        Column("settlementdate", TIMESTAMP, "End of the 5-minute dispatch interval (NEM time)"),
        Column("runno", INT),
        Column("regionid", TEXT),
        Column("dispatchinterval", INT),
        Column("intervention", INT, "1 for an intervention pricing run; market prices use 0"),
        Column("rrp", FLOAT, "Regional reference price, $/MWh"),
        Column("eep", FLOAT),
        Column("rop", FLOAT, "Regional override price, $/MWh"),
        Column("apcflag", INT),
        Column("marketsuspendedflag", INT),
        Column("price_status", TEXT, "FIRM or NOT FIRM"),
        *_FCAS_PRICES,
        Column("lastchanged", TIMESTAMP),
    ),
    primary_key=("settlementdate", "regionid", "dispatchinterval", "intervention"),
    time_column="settlementdate",
    interval=timedelta(minutes=5),
    feeds=("DispatchIS_Reports",),
    mmsdm_tables=("DISPATCHPRICE",),
    description="5-minute regional dispatch prices (energy and FCAS)",
)

DISPATCH_REGIONSUM = TableSpec(
    name="dispatch_regionsum",
    report="DISPATCH",
    subtype="REGIONSUM",
    columns=(
        Column("settlementdate", TIMESTAMP, "End of the 5-minute dispatch interval (NEM time)"),
        Column("runno", INT),
        Column("regionid", TEXT),
        Column("dispatchinterval", INT),
        Column("intervention", INT),
        Column("totaldemand", FLOAT, "Scheduled + semi-scheduled demand, MW"),
        Column("availablegeneration", FLOAT, "MW"),
        Column("availableload", FLOAT, "MW"),
        Column("demandforecast", FLOAT, "MW"),
        Column("dispatchablegeneration", FLOAT, "MW"),
        Column("dispatchableload", FLOAT, "MW"),
        Column("netinterchange", FLOAT, "Net export from the region, MW (positive = export)"),
        Column("excessgeneration", FLOAT, "MW"),
        Column("initialsupply", FLOAT, "MW"),
        Column("clearedsupply", FLOAT, "MW"),
        Column("totalintermittentgeneration", FLOAT, "MW"),
        Column("demand_and_nonschedgen", FLOAT, "MW"),
        Column("uigf", FLOAT, "Unconstrained intermittent generation forecast, MW"),
        Column("semischedule_clearedmw", FLOAT, "MW"),
        Column("semischedule_compliancemw", FLOAT, "MW"),
        Column("ss_solar_uigf", FLOAT, "MW"),
        Column("ss_wind_uigf", FLOAT, "MW"),
        Column("ss_solar_clearedmw", FLOAT, "MW"),
        Column("ss_wind_clearedmw", FLOAT, "MW"),
        Column("ss_solar_compliancemw", FLOAT, "MW"),
        Column("ss_wind_compliancemw", FLOAT, "MW"),
        Column("ss_solar_availability", FLOAT, "MW"),
        Column("ss_wind_availability", FLOAT, "MW"),
        Column("bdu_energy_storage", FLOAT, "Battery energy in storage, MWh (where present)"),
        Column("bdu_min_avail", FLOAT, "MW"),
        Column("bdu_max_avail", FLOAT, "MW"),
        Column("bdu_clearedmw_gen", FLOAT, "Battery discharge cleared, MW"),
        Column("bdu_clearedmw_load", FLOAT, "Battery charge cleared, MW"),
        Column("bdu_initial_energy_storage", FLOAT, "MWh"),
        Column("lastchanged", TIMESTAMP),
    ),
    primary_key=("settlementdate", "regionid", "dispatchinterval", "intervention"),
    time_column="settlementdate",
    interval=timedelta(minutes=5),
    feeds=("DispatchIS_Reports",),
    mmsdm_tables=("DISPATCHREGIONSUM",),
    description="5-minute regional demand, availability, interchange and semi-scheduled output",
)

INTERCONNECTOR_FLOW = TableSpec(
    name="interconnector_flow",
    report="DISPATCH",
    subtype="INTERCONNECTORRES",
    columns=(
        Column("settlementdate", TIMESTAMP, "End of the 5-minute dispatch interval (NEM time)"),
        Column("runno", INT),
        Column("interconnectorid", TEXT),
        Column("dispatchinterval", INT),
        Column("intervention", INT),
        Column("meteredmwflow", FLOAT, "Measured flow, MW; positive from first-named region"),
        Column("mwflow", FLOAT, "Dispatch target flow, MW"),
        Column("mwlosses", FLOAT, "MW"),
        Column("marginalvalue", FLOAT, "$/MWh"),
        Column("violationdegree", FLOAT),
        Column("exportlimit", FLOAT, "MW"),
        Column("importlimit", FLOAT, "MW"),
        Column("marginalloss", FLOAT),
        Column("exportgenconid", TEXT),
        Column("importgenconid", TEXT),
        Column("fcasexportlimit", FLOAT, "MW"),
        Column("fcasimportlimit", FLOAT, "MW"),
        Column("lastchanged", TIMESTAMP),
    ),
    primary_key=("settlementdate", "interconnectorid", "dispatchinterval", "intervention"),
    time_column="settlementdate",
    interval=timedelta(minutes=5),
    feeds=("DispatchIS_Reports",),
    mmsdm_tables=("DISPATCHINTERCONNECTORRES",),
    description="5-minute interconnector flows, losses and limits",
)

UNIT_SCADA = TableSpec(
    name="unit_scada",
    report="DISPATCH",
    subtype="UNIT_SCADA",
    columns=(
        Column("settlementdate", TIMESTAMP, "End of the 5-minute dispatch interval (NEM time)"),
        Column("duid", TEXT),
        Column("scadavalue", FLOAT, "Instantaneous MW at the interval end (not energy)"),
        Column("lastchanged", TIMESTAMP, "Present from late 2025"),
    ),
    primary_key=("settlementdate", "duid"),
    time_column="settlementdate",
    interval=timedelta(minutes=5),
    feeds=("Dispatch_SCADA",),
    mmsdm_tables=("DISPATCH_UNIT_SCADA",),
    description="5-minute SCADA output per dispatchable unit (MW)",
)

TRADING_PRICE = TableSpec(
    name="trading_price",
    report="TRADING",
    subtype="PRICE",
    columns=(
        Column("settlementdate", TIMESTAMP, "End of the trading interval (NEM time)"),
        Column("runno", INT),
        Column("regionid", TEXT),
        Column("periodid", INT),
        Column("rrp", FLOAT, "Spot price, $/MWh: 30-minute before 2021-10-01, 5-minute after"),
        Column("eep", FLOAT),
        Column("invalidflag", TEXT),
        Column("rop", FLOAT),
        Column("price_status", TEXT),
        *_FCAS_PRICES,
        Column("lastchanged", TIMESTAMP),
    ),
    primary_key=("settlementdate", "regionid"),
    time_column="settlementdate",
    interval=timedelta(minutes=5),
    feeds=("TradingIS_Reports",),
    mmsdm_tables=("TRADINGPRICE",),
    description="Trading (settlement) prices; 30-minute before five-minute settlement",
    legacy_interval=timedelta(minutes=30),
)

ROOFTOP_PV = TableSpec(
    name="rooftop_pv",
    report="ROOFTOP",
    subtype="ACTUAL",
    columns=(
        Column("interval_datetime", TIMESTAMP, "End of the half hour (NEM time)"),
        Column("regionid", TEXT, "Region or sub-region (QLDC/QLDN/QLDS/TASN/TASS)"),
        Column("power", FLOAT, "Estimated rooftop PV output, average MW over the half hour"),
        Column("qi", FLOAT, "Quality indicator"),
        Column("type", TEXT, "MEASUREMENT or SATELLITE"),
        Column("lastchanged", TIMESTAMP),
    ),
    primary_key=("interval_datetime", "regionid", "type"),
    time_column="interval_datetime",
    interval=timedelta(minutes=30),
    feeds=("ROOFTOP_PV_ACTUAL",),
    mmsdm_tables=("ROOFTOP_PV_ACTUAL",),
    description="Half-hourly rooftop PV estimates per region and sub-region",
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        DISPATCH_PRICE,
        DISPATCH_REGIONSUM,
        INTERCONNECTOR_FLOW,
        UNIT_SCADA,
        TRADING_PRICE,
        ROOFTOP_PV,
    )
}

_BY_REPORT: dict[tuple[str, str], TableSpec] = {(t.report, t.subtype): t for t in TABLES.values()}
_BY_MMSDM: dict[str, TableSpec] = {m: t for t in TABLES.values() for m in t.mmsdm_tables}

FEEDS: dict[str, FeedSpec] = {
    feed.name: feed
    for feed in (
        FeedSpec(
            "DispatchIS_Reports",
            "Reports/CURRENT/DispatchIS_Reports/",
            "Reports/ARCHIVE/DispatchIS_Reports/",
            ("PUBLIC_DISPATCHIS_",),
            ("dispatch_price", "dispatch_regionsum", "interconnector_flow"),
        ),
        FeedSpec(
            "Dispatch_SCADA",
            "Reports/CURRENT/Dispatch_SCADA/",
            "Reports/ARCHIVE/Dispatch_SCADA/",
            ("PUBLIC_DISPATCHSCADA_",),
            ("unit_scada",),
        ),
        FeedSpec(
            "TradingIS_Reports",
            "Reports/CURRENT/TradingIS_Reports/",
            "Reports/ARCHIVE/TradingIS_Reports/",
            ("PUBLIC_TRADINGIS_",),
            ("trading_price",),
        ),
        FeedSpec(
            "ROOFTOP_PV_ACTUAL",
            "Reports/CURRENT/ROOFTOP_PV/ACTUAL/",
            "Reports/ARCHIVE/ROOFTOP_PV/ACTUAL/",
            ("PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_", "PUBLIC_ROOFTOP_PV_ACTUAL_SATELLITE_"),
            ("rooftop_pv",),
            archive_period="week",
        ),
    )
}

MMSDM_BASE = "Data_Archive/Wholesale_Electricity/MMSDM/"


def for_report(report: str, subtype: str) -> TableSpec | None:
    """The spec for an ``I,<report>,<subtype>,...`` row, or None if nemdash does not keep it."""
    return _BY_REPORT.get((report.upper(), subtype.upper()))


def for_mmsdm(table: str) -> TableSpec | None:
    """The spec for an MMSDM archive table name such as ``DISPATCH_UNIT_SCADA``."""
    return _BY_MMSDM.get(table.upper())


def get(name: str) -> TableSpec:
    """The spec of a logical table; the error lists the valid names."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLES)}") from None


def resolve(names: Iterable[str] | None) -> tuple[TableSpec, ...]:
    """Specs for the given names (all tables when ``names`` is None or empty)."""
    if not names:
        return tuple(TABLES.values())
    return tuple(get(n) for n in names)
