"""Small synthetic stores for the query tests, built through the real lake and the real rollups.

Rows are hand-made Arrow tables with the specs' schemas, published with ``LakeWriter.publish``;
the DUID registry goes in with ``replace_table``; the rollups are computed by
``rebuild_rollups``. Every value is a simple function of the interval, kept in :class:`Inputs`
so that tests compute their expectations from the inputs, never from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from nemdash.config import DataPaths, Settings
from nemdash.nemtime import NEM_TZ
from nemdash.query.connection import Database
from nemdash.store.lake import Lake, LakeWriter
from nemdash.store.registry import REGISTRY_SCHEMA, REGISTRY_TABLE
from nemdash.store.rollup_specs import ROLLUP_TABLES
from nemdash.store.rollups import TABLES_KEY, rebuild_rollups
from nemdash.tables import (
    DISPATCH_PRICE,
    DISPATCH_REGIONSUM,
    INTERCONNECTOR_FLOW,
    REGIONS,
    ROOFTOP_PV,
    TRADING_PRICE,
    UNIT_SCADA,
    TableSpec,
)

FIVE = timedelta(minutes=5)
HALF_HOUR = timedelta(minutes=30)
HOURS = 5 / 60
#: First day of the main synthetic store (after five-minute settlement began).
DAY1 = datetime(2024, 3, 1)


def aware(value: datetime) -> datetime:
    """A naive NEM wall-clock value as the aware datetime query functions take."""
    return value.replace(tzinfo=NEM_TZ)


def interval_ends(start: datetime, count: int) -> list[datetime]:
    """``count`` interval ends after ``start`` (period-ending)."""
    return [start + (i + 1) * FIVE for i in range(count)]


@dataclass(frozen=True)
class Unit:
    """A registry row: what the query tests need of a unit."""

    duid: str
    station: str | None
    region: str | None
    fuel: str
    capacity: float | None
    aggregate: bool = False


def registry_table(units: Sequence[Unit]) -> pa.Table:
    rows = [
        {
            "duid": u.duid,
            "station_name": u.station,
            "participant": "Test Energy" if not u.aggregate else None,
            "region": u.region,
            "fuel": u.fuel,
            "registered_capacity_mw": u.capacity,
            "identity_source": "aemo_registration_list",
            "fuel_source": "aemo_registration_list",
            "inferred": False,
            "is_aggregate": u.aggregate,
        }
        for u in units
    ]
    return pa.Table.from_pylist(rows, schema=REGISTRY_SCHEMA)


def rows_of(spec: TableSpec, rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """An Arrow table with the spec's schema; columns not given are NULL."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=spec.arrow_schema)


def _dispatch(t: datetime, key: str, value: str, intervention: int = 0) -> dict[str, object]:
    return {
        "settlementdate": t,
        "runno": 1,
        key: value,
        "dispatchinterval": int(t.timestamp()) // 300,
        "intervention": intervention,
    }


@dataclass
class Inputs:
    """Everything put in a store, by table, as plain Python values (naive NEM times)."""

    rrp: dict[tuple[str, datetime], float] = field(default_factory=dict)
    """Market prices (intervention 0) by (region, interval end)."""
    intervention_rrp: dict[tuple[str, datetime], float] = field(default_factory=dict)
    demand: dict[tuple[str, datetime], float] = field(default_factory=dict)
    trading: dict[tuple[str, datetime], float] = field(default_factory=dict)
    scada: dict[tuple[str, datetime], float] = field(default_factory=dict)
    rooftop: dict[tuple[str, datetime, str], float] = field(default_factory=dict)
    """(regionid incl. sub-regions, half-hour end, type) -> MW."""
    flows: dict[tuple[str, datetime], tuple[float, float, float]] = field(default_factory=dict)
    """(interconnector, interval end) -> (metered MW, export limit, import limit)."""
    units: list[Unit] = field(default_factory=list)

    def unit(self, duid: str) -> Unit:
        return next(u for u in self.units if u.duid == duid)

    def tables(self) -> dict[str, list[pa.Table]]:
        """The inputs as lake tables, ready for ``publish``."""
        prices = [
            {**_dispatch(t, "regionid", r), "rrp": v} for (r, t), v in sorted(self.rrp.items())
        ] + [
            {**_dispatch(t, "regionid", r, 1), "rrp": v}
            for (r, t), v in sorted(self.intervention_rrp.items())
        ]
        demand = [
            {**_dispatch(t, "regionid", r), "totaldemand": v}
            for (r, t), v in sorted(self.demand.items())
        ]
        trading = [
            {"settlementdate": t, "runno": 1, "regionid": r, "periodid": 1, "rrp": v}
            for (r, t), v in sorted(self.trading.items())
        ]
        scada = [
            {"settlementdate": t, "duid": d, "scadavalue": v}
            for (d, t), v in sorted(self.scada.items())
        ]
        rooftop = [
            {"interval_datetime": t, "regionid": r, "power": v, "qi": 1.0, "type": kind}
            for (r, t, kind), v in sorted(self.rooftop.items())
        ]
        flows = [
            {
                **_dispatch(t, "interconnectorid", ic),
                "meteredmwflow": flow,
                "mwflow": flow + 1.0,
                "exportlimit": export,
                "importlimit": imp,
            }
            for (ic, t), (flow, export, imp) in sorted(self.flows.items())
        ]
        data = {
            DISPATCH_PRICE.name: [rows_of(DISPATCH_PRICE, prices)],
            DISPATCH_REGIONSUM.name: [rows_of(DISPATCH_REGIONSUM, demand)],
            TRADING_PRICE.name: [rows_of(TRADING_PRICE, trading)],
            UNIT_SCADA.name: [rows_of(UNIT_SCADA, scada)],
            ROOFTOP_PV.name: [rows_of(ROOFTOP_PV, rooftop)],
            INTERCONNECTOR_FLOW.name: [rows_of(INTERCONNECTOR_FLOW, flows)],
        }
        return {name: parts for name, parts in data.items() if parts[0].num_rows}


def build_store(root: Path, inputs: Inputs, *, cache: bool = False) -> Database:
    """Publish ``inputs`` into a new lake at ``root``, build the rollups, open a Database.

    The query cache is off unless ``cache`` (then memory only, checking the store version on
    every call), so that tests see what the functions compute.
    """
    lake = Lake(DataPaths(root))
    with lake.writer() as writer:
        if inputs.units:
            writer.replace_table(REGISTRY_TABLE, registry_table(inputs.units), [])
        writer.publish(inputs.tables(), [])
        rebuild_rollups(writer)
    settings = Settings(
        data_dir=root,
        cache_memory_bytes=64 * 2**20 if cache else 0,
        cache_disk_bytes=0,
        cache_version_poll=0,
    )
    return Database(settings, lake)


# -- the main synthetic market --------------------------------------------------------------------

UNITS = [
    Unit("BW01", "Bayswater", "NSW1", "coal_black", 660.0),
    Unit("BW02", "Bayswater", "NSW1", "coal_black", 660.0),
    Unit("WINDY1", "Windy Hill Wind Farm", "NSW1", "wind", 100.0),
    Unit("TUMUT3", "Tumut 3", "NSW1", "pumped_hydro", 250.0),
    Unit("GAS1", "Swanbank E", "QLD1", "gas_ocgt", 300.0),
    Unit("BIO1", "Rocky Point", "QLD1", "biomass", 20.0),
    Unit("HPR1", "Hornsdale Power Reserve", "SA1", "battery", 150.0),
    Unit("SUNNY1", "Sunny Solar Farm", "SA1", "solar_utility", 50.0),
    Unit("GORDON1", "Gordon", "TAS1", "hydro", 200.0),
    Unit("LOYYB1", "Loy Yang B", "VIC1", "coal_brown", None),
    Unit("DG_NSW1", None, "NSW1", "other", None, aggregate=True),
]
#: A unit that SCADA reports and the registry does not know.
UNLISTED = "MYSTERY1"
#: NSW1 price intervals left out, so that the half hour ending 14:00 on DAY1 holds 4 of 6.
MISSING_NSW1 = (DAY1 + timedelta(hours=13, minutes=35), DAY1 + timedelta(hours=13, minutes=40))
#: Intervention-run prices: wild values that must never show.
INTERVENTION_PRICE = 99_999.0


def nsw_price(i: int) -> float:
    """NSW1's price at the i-th interval of a day: -50 .. 1,385 in steps of 5."""
    return -50.0 + 5.0 * i


def market(days: int = 2) -> Inputs:
    """The main synthetic market: ``days`` days from :data:`DAY1`, all five regions."""
    inputs = Inputs(units=list(UNITS))
    for d in range(days):
        day = DAY1 + timedelta(days=d)
        for i, t in enumerate(interval_ends(day, 288)):
            prices = {
                "NSW1": nsw_price(i),
                "QLD1": 50.0 + d,
                "SA1": 100.0 if i % 2 else -20.0,
                "TAS1": 20.0,
                "VIC1": 40.0 + (i % 12),
            }
            for region, rrp in prices.items():
                if region == "NSW1" and t in MISSING_NSW1:
                    continue
                inputs.rrp[region, t] = rrp
                inputs.trading[region, t] = rrp
                inputs.demand[region, t] = 1000.0 + 10 * REGIONS.index(region) + i
            if i % 48 == 7:
                for region in REGIONS:
                    inputs.intervention_rrp[region, t] = INTERVENTION_PRICE
            _units_at(inputs, t, i)
            for ic, (flow, export, imp) in {
                "VIC1-NSW1": (100.0 + i % 3, 1000.0, -800.0),
                "NSW1-QLD1": (80.0, 600.0, -900.0),
                "V-SA": (-30.0, 500.0, -400.0),
                "T-V-MNSP1": (200.0, 480.0, -470.0),
            }.items():
                inputs.flows[ic, t] = (flow, export, imp)
        for h in range(48):
            t = day + (h + 1) * HALF_HOUR
            _rooftop_at(inputs, t, h)
    return inputs


def _units_at(inputs: Inputs, t: datetime, i: int) -> None:
    values: dict[str, Callable[[int], float]] = {
        "BW01": lambda i: 500.0 + (i % 6),
        "BW02": lambda i: 400.0,
        "WINDY1": lambda i: float(i % 50),
        "TUMUT3": lambda i: 100.0 if i % 4 else -60.0,
        "GAS1": lambda i: 0.0 if i < 200 else 150.0,
        "BIO1": lambda i: 10.0,
        "HPR1": lambda i: 75.0 if i % 3 == 0 else -40.0,
        "SUNNY1": lambda i: max(0.0, 40.0 - abs(i - 144) / 2),
        "GORDON1": lambda i: 120.0,
        "LOYYB1": lambda i: 550.0,
        "DG_NSW1": lambda i: 1000.0,
        UNLISTED: lambda i: 5.0,
    }
    for duid, value in values.items():
        inputs.scada[duid, t] = value(i)


def _rooftop_at(inputs: Inputs, t: datetime, h: int) -> None:
    sun = max(0.0, 1000.0 - 40.0 * abs(h - 24))
    inputs.rooftop["NSW1", t, "MEASUREMENT"] = sun
    inputs.rooftop["NSW1", t, "SATELLITE"] = sun + 777.0  # never chosen over MEASUREMENT
    inputs.rooftop["QLD1", t, "MEASUREMENT"] = sun / 2
    for sub, share in (("QLDC", 0.2), ("QLDN", 0.3), ("QLDS", 0.5)):
        inputs.rooftop[sub, t, "MEASUREMENT"] = sun / 2 * share  # parts of QLD1: never summed
    inputs.rooftop["SA1", t, "SATELLITE"] = sun / 4  # only an estimate from satellites here


def as_before_fuel_5m(lake: Lake, writer: LakeWriter) -> None:
    """Make a store look built by a nemdash from before the ``fuel_5m`` rollup: its files
    retired, and the rollup tables key naming only the other tables."""
    gone = {(f.table, f.partition) for f in lake.live_files("fuel_5m")}
    older = ",".join(sorted(set(ROLLUP_TABLES) - {"fuel_5m"}))
    writer.publish({}, [], replace=gone, state={TABLES_KEY: older})
