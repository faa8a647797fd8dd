"""The synthetic NEM's fleet: invented stations and DUIDs with a real-looking regional mix.

The mix follows the real NEM of the mid-2020s (AEMO's registration list): black coal in NSW1 and
QLD1, brown coal in VIC1, gas (CCGT, OCGT, steam, reciprocating engines) everywhere but mostly in
SA1, conventional hydro in TAS1 (many small units), NSW1 (Snowy-like) and VIC1, pumped hydro in
NSW1 and QLD1 (generating units plus a separate pump *load* DUID, as AEMO registers them), wind and
utility solar in every mainland region, batteries (one bidirectional DUID each, negative SCADA
when charging, as AEMO registers them since 2024), and a little biomass.

Each (region, technology) category has a fixed total capacity, so the system stays adequate
whatever the number of units asked for; the number of DUIDs per category is scaled to ``units``.
A small fleet therefore has big units; outages of an oversized unit take out one typical unit's
worth of its capacity rather than all of it (see ``market.py``).

Names are invented from syllables (nothing refers to a real station), DUIDs are built from the
station name the way AEMO's are (``TARRA1..TARRA4``, ``KOORWF1``, ``BELLSF1``, ``WIRRBESS1``),
and everything is a pure function of ``(units, seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from nemdash.demo import noise
from nemdash.demo.noise import FloatArray, IntArray
from nemdash.errors import ConfigError
from nemdash.tables import REGIONS


class Tech(StrEnum):
    """Technology of a DUID; values match the fuel codes of nemdash's DUID registry."""

    COAL_BLACK = "coal_black"
    COAL_BROWN = "coal_brown"
    GAS_CCGT = "gas_ccgt"
    GAS_OCGT = "gas_ocgt"
    GAS_OTHER = "gas_other"
    DISTILLATE = "distillate"
    HYDRO = "hydro"
    PUMPED_HYDRO = "pumped_hydro"
    PUMP = "pump"
    """The pump of a pumped hydro station: a load DUID, registry fuel ``pumped_hydro``."""
    WIND = "wind"
    SOLAR = "solar_utility"
    BATTERY = "battery"
    BIOMASS = "biomass"


#: Technologies whose output follows the weather (semi-scheduled, bid near zero or below).
VARIABLE = frozenset({Tech.WIND, Tech.SOLAR})
#: Thermal technologies that trip and come back.
THERMAL = frozenset(
    {Tech.COAL_BLACK, Tech.COAL_BROWN, Tech.GAS_CCGT, Tech.GAS_OCGT, Tech.GAS_OTHER, Tech.BIOMASS}
)
STORAGE = frozenset({Tech.BATTERY, Tech.PUMPED_HYDRO, Tech.PUMP})


@dataclass(frozen=True)
class Band:
    """One offer band: a share of availability offered between two prices.

    ``index`` scales the prices by a fuel-cost index (``coal``, ``gas`` or ``water``); prices of
    a ``cap`` band are fractions of the market price cap of the day.
    """

    share: float
    low: float
    high: float
    index: str = ""


def _cap(share: float, low: float, high: float) -> Band:
    return Band(share, low, high, "cap")


@dataclass(frozen=True)
class TechInfo:
    """Registry wording (AEMO's own texts) and behaviour of a technology."""

    fuel_primary: str
    fuel_descriptor: str
    technology_primary: str
    technology_descriptor: str
    dispatch_type: str
    classification: str
    station_suffix: str
    duid_infix: str
    units_per_station: tuple[int, int]
    typical_unit_mw: float
    bands: tuple[Band, ...] = ()


TECHS: dict[Tech, TechInfo] = {
    Tech.COAL_BLACK: TechInfo(
        "Fossil", "Black Coal", "Combustion", "Steam Sub-Critical", "Generating Unit",
        "Scheduled", "Power Station", "", (2, 4), 680.0,
        (Band(0.40, -1000, -1000), Band(0.08, -50, 20), Band(0.32, 45, 90, "coal"),
         Band(0.12, 100, 300, "coal"), _cap(0.08, 0.3, 1.0)),
    ),
    Tech.COAL_BROWN: TechInfo(
        "Fossil", "Brown Coal", "Combustion", "Steam Sub-Critical", "Generating Unit",
        "Scheduled", "Power Station", "", (2, 4), 500.0,
        (Band(0.55, -1000, -1000), Band(0.25, -20, 15), Band(0.12, 40, 100, "coal"),
         Band(0.04, 200, 1000), _cap(0.04, 0.3, 1.0)),
    ),
    Tech.GAS_CCGT: TechInfo(
        "Fossil", "Natural Gas", "Combustion", "Combined Cycle Gas Turbine (CCGT)",
        "Generating Unit", "Scheduled", "Power Station", "", (1, 2), 400.0,
        (Band(0.25, 60, 100, "gas"), Band(0.45, 100, 170, "gas"), Band(0.20, 170, 400, "gas"),
         _cap(0.10, 0.2, 1.0)),
    ),
    Tech.GAS_OCGT: TechInfo(
        "Fossil", "Natural Gas", "Combustion", "Open Cycle Gas turbines (OCGT)",
        "Generating Unit", "Scheduled", "Power Station", "GT", (1, 4), 150.0,
        (Band(0.25, 120, 250, "gas"), Band(0.35, 250, 600, "gas"), Band(0.20, 600, 3000),
         _cap(0.20, 0.3, 1.0)),
    ),
    Tech.GAS_OTHER: TechInfo(
        "Fossil", "Natural Gas / Fuel Oil", "Combustion", "Steam Sub-Critical",
        "Generating Unit", "Scheduled", "Power Station", "", (2, 4), 200.0,
        (Band(0.15, 40, 80, "gas"), Band(0.40, 80, 160, "gas"), Band(0.30, 160, 500, "gas"),
         _cap(0.15, 0.3, 1.0)),
    ),
    Tech.DISTILLATE: TechInfo(
        "Fossil", "Diesel", "Combustion", "Compression Reciprocating Engine", "Generating Unit",
        "Scheduled", "Power Station", "", (1, 1), 50.0,
        (Band(0.5, 300, 800), _cap(0.5, 0.5, 1.0)),
    ),
    Tech.HYDRO: TechInfo(
        "Hydro", "Water", "Renewable", "Hydro - Gravity", "Generating Unit", "Scheduled",
        "Power Station", "", (1, 6), 100.0,
        (Band(0.15, -50, 10), Band(0.33, 50, 130, "water"), Band(0.27, 130, 300, "water"),
         Band(0.15, 300, 1500), _cap(0.10, 0.3, 1.0)),
    ),
    Tech.PUMPED_HYDRO: TechInfo(
        "Hydro", "Water", "Renewable", "Pump Storage", "Generating Unit", "Scheduled",
        "Pumped Hydro Power Station", "", (2, 4), 250.0,
    ),
    Tech.PUMP: TechInfo(
        "Hydro", "Water", "Renewable", "Pump Storage", "Load", "Scheduled",
        "Pumped Hydro Power Station", "PUMP", (1, 1), 250.0,
    ),
    Tech.WIND: TechInfo(
        "Wind", "Wind", "Renewable", "Wind - Onshore", "Generating Unit", "Semi-Scheduled",
        "Wind Farm", "WF", (1, 3), 150.0,
        (Band(0.10, -1000, -1000), Band(0.75, -60, -15), Band(0.15, -15, 30)),
    ),
    Tech.SOLAR: TechInfo(
        "Solar", "Solar", "Renewable", "Photovoltaic Tracking Flat panel", "Generating Unit",
        "Semi-Scheduled", "Solar Farm", "SF", (1, 2), 140.0,
        (Band(0.10, -1000, -1000), Band(0.70, -50, -5), Band(0.20, -5, 20)),
    ),
    Tech.BATTERY: TechInfo(
        "Battery Storage", "Grid", "Storage", "Battery and Inverter", "Bidirectional Unit",
        "Scheduled", "Battery Energy Storage System", "BESS", (1, 1), 120.0,
    ),
    Tech.BIOMASS: TechInfo(
        "Renewable/ Biomass / Waste", "Bagasse", "Combustion", "Steam Sub-Critical",
        "Generating Unit", "Scheduled", "Sugar Mill", "", (1, 2), 40.0,
        (Band(0.7, -10, 10), Band(0.3, 40, 100)),
    ),
}  # fmt: skip

#: Offer bands per unit (padded with empty bands).
N_BANDS = 5
#: Codes of ``Band.index`` in :attr:`Fleet.band_kind`.
BAND_KINDS: dict[str, int] = {"": 0, "cap": 1, "coal": 2, "gas": 3, "water": 4}

#: The real-looking mix: (region, technology, total MW, DUIDs at full scale of ~430 units).
TEMPLATE: tuple[tuple[str, Tech, float, int], ...] = (
    ("NSW1", Tech.COAL_BLACK, 8200, 12),
    ("NSW1", Tech.GAS_CCGT, 440, 1),
    ("NSW1", Tech.GAS_OCGT, 1750, 8),
    ("NSW1", Tech.HYDRO, 2500, 12),
    ("NSW1", Tech.PUMPED_HYDRO, 2040, 5),
    ("NSW1", Tech.WIND, 3300, 24),
    ("NSW1", Tech.SOLAR, 4800, 34),
    ("NSW1", Tech.BATTERY, 1500, 13),
    ("NSW1", Tech.BIOMASS, 60, 3),
    ("QLD1", Tech.COAL_BLACK, 8100, 22),
    ("QLD1", Tech.GAS_CCGT, 1100, 4),
    ("QLD1", Tech.GAS_OCGT, 2200, 14),
    ("QLD1", Tech.HYDRO, 170, 3),
    ("QLD1", Tech.PUMPED_HYDRO, 570, 2),
    ("QLD1", Tech.WIND, 2600, 14),
    ("QLD1", Tech.SOLAR, 4900, 34),
    ("QLD1", Tech.BATTERY, 1000, 11),
    ("QLD1", Tech.BIOMASS, 300, 6),
    ("VIC1", Tech.COAL_BROWN, 4700, 10),
    ("VIC1", Tech.GAS_OCGT, 1500, 10),
    ("VIC1", Tech.GAS_OTHER, 500, 2),
    ("VIC1", Tech.HYDRO, 2250, 16),
    ("VIC1", Tech.WIND, 5000, 36),
    ("VIC1", Tech.SOLAR, 1900, 14),
    ("VIC1", Tech.BATTERY, 1100, 11),
    ("SA1", Tech.GAS_CCGT, 700, 4),
    ("SA1", Tech.GAS_OTHER, 800, 4),
    ("SA1", Tech.GAS_OCGT, 900, 10),
    ("SA1", Tech.DISTILLATE, 150, 3),
    ("SA1", Tech.WIND, 2600, 24),
    ("SA1", Tech.SOLAR, 700, 8),
    ("SA1", Tech.BATTERY, 800, 10),
    ("TAS1", Tech.HYDRO, 2300, 30),
    ("TAS1", Tech.GAS_CCGT, 210, 1),
    ("TAS1", Tech.GAS_OCGT, 150, 3),
    ("TAS1", Tech.WIND, 570, 6),
)

#: Where each region's plant sits (latitude, longitude of its centre; stations spread around it).
REGION_CENTRES: dict[str, tuple[float, float]] = {
    "NSW1": (-32.8, 149.0),
    "QLD1": (-25.0, 150.5),
    "SA1": (-34.0, 138.8),
    "TAS1": (-42.0, 146.8),
    "VIC1": (-37.3, 144.5),
}

#: Portfolio owners of thermal and hydro plant, per region (invented).
_OWNERS: dict[str, tuple[str, ...]] = {
    "NSW1": ("Eastwind Generation Pty Ltd", "Hunter Ridge Power Ltd", "Alpine Water Power Limited"),
    "QLD1": ("Coral Coast Energy Corporation", "Brigalow Generation Ltd", "Capricorn Power Ltd"),
    "VIC1": ("Gippsland Brown Energy Pty Ltd", "High Plains Hydro Pty Ltd", "Bass Gas Pty Ltd"),
    "SA1": ("Gulf Power Generation Pty Ltd", "Spencer Energy Pty Ltd"),
    "TAS1": ("Island Hydro Corporation", "Tamar Gas Pty Ltd"),
}

_SYL_START = (
    "Kar", "Wal", "Bun", "Tar", "Mur", "Yar", "Kin", "Bel", "Cor", "Gle", "War", "Coo", "Dar",
    "Mil", "Bar", "Wir", "Nar", "Gun", "Ter", "Mon", "Quo", "Ell", "Jin", "Lan", "Pen", "Rav",
    "Tum", "Ulm", "Vin", "Bro", "Cal", "Hal", "Kel", "Mar", "Nul", "Ow", "Wee", "Yal", "Bom",
)  # fmt: skip
_SYL_MID = ("ra", "ri", "on", "in", "ba", "la", "ga", "ro", "wa", "ma", "ne", "di", "")
_SYL_END = (
    "wong", "gal", "dale", "bah", "ree", "dilla", "ton", "brook", "vale", "ong", "ara", "yah",
    "burn", "field", "ridge", "creek", "gong", "nup", "lee", "mere", "inga", "alla", "oo",
)  # fmt: skip
_NAME_PREFIX = ("", "", "", "", "", "Mount ", "Lake ", "North ", "Upper ", "West ")


@dataclass
class _Row:
    """One DUID while the fleet is being built."""

    duid: str
    station: str
    participant: str
    tech: Tech
    region: int
    capacity: float
    registered: float
    lat: float
    lon: float
    tracking: bool


@dataclass(frozen=True)
class StoragePlant:
    """A battery (one bidirectional DUID) or a pumped hydro station (generators and a pump)."""

    name: str
    region: int
    gen_units: tuple[int, ...]
    """Indices of the generating (or bidirectional) DUIDs in the fleet."""
    load_unit: int | None
    """Index of the pump's load DUID (pumped hydro), None for a bidirectional battery."""
    power_mw: float
    """Most the plant can send out (sum of its generating DUIDs), MW."""
    charge_mw: float
    """Most the plant can take in, MW."""
    energy_mwh: float
    efficiency: float
    """Round-trip efficiency, applied when charging."""


@dataclass(frozen=True)
class Fleet:
    """Every DUID of the synthetic NEM, as parallel arrays (index = unit number)."""

    seed: int
    duid: tuple[str, ...]
    station: tuple[str, ...]
    participant: tuple[str, ...]
    tech: tuple[Tech, ...]
    region: IntArray
    """Index into :data:`nemdash.tables.REGIONS`."""
    capacity: FloatArray
    """Maximum capacity, MW (consumption for a pump)."""
    registered_capacity: FloatArray
    storage_mwh: FloatArray
    """Storage of a battery or pumped hydro station (0 elsewhere), MWh."""
    lat: FloatArray
    lon: FloatArray
    tracking: NDArray[np.bool_]
    band_price: FloatArray
    """Base offer prices, shape (units, N_BANDS); see :class:`Band` for indices and caps."""
    band_share: FloatArray
    band_kind: IntArray
    """Per band: 0 a fixed price, 1 a fraction of the cap, 2/3/4 scaled by the coal/gas/water
    cost index (see :data:`BAND_KINDS`)."""
    storage: tuple[StoragePlant, ...]

    def __len__(self) -> int:
        return len(self.duid)

    def units_of(self, *techs: Tech) -> IntArray:
        """Indices of the units of the given technologies."""
        wanted = set(techs)
        return np.array([i for i, t in enumerate(self.tech) if t in wanted], dtype=np.int64)

    @property
    def tech_codes(self) -> IntArray:
        """Technology of each unit as an index into ``list(Tech)``."""
        order = {t: i for i, t in enumerate(Tech)}
        return np.array([order[t] for t in self.tech], dtype=np.int64)


def minimum_units() -> int:
    """The smallest fleet that still has every category and every pumped hydro pump."""
    return len(TEMPLATE) + sum(1 for _, tech, _, _ in TEMPLATE if tech is Tech.PUMPED_HYDRO)


def _allocate(units: int) -> list[int]:
    """DUIDs per template category: proportional to the real counts, at least one each."""
    pumps = sum(1 for _, tech, _, _ in TEMPLATE if tech is Tech.PUMPED_HYDRO)
    budget = units - pumps
    weights = np.array([count for _, _, _, count in TEMPLATE], dtype=np.float64)
    extra = budget - len(TEMPLATE)
    share = weights / weights.sum() * extra
    counts = np.floor(share).astype(np.int64)
    remainder = share - counts
    # Largest remainders first; ties broken by template order, so the result is deterministic.
    order = sorted(range(len(TEMPLATE)), key=lambda i: (-remainder[i], i))
    for i in order[: extra - int(counts.sum())]:
        counts[i] += 1
    return [int(c) + 1 for c in counts]


def _split_stations(count: int, tech: Tech, seed: int, key: int) -> list[int]:
    """Units per station for a category of ``count`` units."""
    low, high = TECHS[tech].units_per_station
    sizes: list[int] = []
    draw = 0
    while sum(sizes) < count:
        u = float(noise.uniform(seed, "station-size", key, draw)[0])
        draw += 1
        size = min(low + int(u * (high - low + 1)), count - sum(sizes))
        sizes.append(size)
    return sizes


class _Namer:
    """Unique invented station names and DUID codes."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.names: set[str] = set()
        self.codes: set[str] = set()
        self.draw = 0

    def station_name(self) -> str:
        """A new place-like name, e.g. ``Mount Karrawong``."""
        while True:
            u = noise.uniform(self.seed, "name", self.draw, np.arange(4))
            self.draw += 1
            word = (
                _SYL_START[int(u[0] * len(_SYL_START))]
                + _SYL_MID[int(u[1] * len(_SYL_MID))]
                + _SYL_END[int(u[2] * len(_SYL_END))]
            )
            name = _NAME_PREFIX[int(u[3] * len(_NAME_PREFIX))] + word
            if name not in self.names:
                self.names.add(name)
                return name

    def code(self, name: str, length: int) -> str:
        """A unique upper-case code of at most ``length`` letters built from ``name``."""
        words = name.upper().split()
        main = words[-1]
        candidates = [main[:length], (words[0][:1] + main)[:length] if len(words) > 1 else ""]
        candidates += [main[: length - 1] + letter for letter in "ABCDEFGHJKLMNPRSTUVWXYZ"]
        for candidate in candidates:
            if candidate and candidate not in self.codes:
                self.codes.add(candidate)
                return candidate
        raise ConfigError(f"ran out of DUID codes for station {name!r}; use a smaller fleet")


def make_fleet(units: int = 450, seed: int = 1) -> Fleet:
    """The fleet of ``units`` DUIDs for ``seed`` (deterministic)."""
    smallest = minimum_units()
    if units < smallest:
        raise ConfigError(
            f"a synthetic NEM needs at least {smallest} units (one per region and technology, "
            f"plus the pumps of pumped hydro); got units={units}"
        )
    if units > 5000:
        raise ConfigError(f"units={units} is more than the demo supports (5000); use fewer")
    namer = _Namer(seed)
    rows: list[_Row] = []
    storage_specs: list[tuple[str, int, list[int], int | None, float, float, float, float]] = []
    for key, ((region, tech, total_mw, _), count) in enumerate(
        zip(TEMPLATE, _allocate(units), strict=True)
    ):
        info = TECHS[tech]
        region_index = REGIONS.index(region)
        # A pumped hydro category is one station with one pump, so the DUID count comes out exact.
        stations = [count] if tech is Tech.PUMPED_HYDRO else _split_stations(count, tech, seed, key)
        # Station sizes vary (a Dirichlet-like draw) but every unit of a station is the same size.
        weights = np.array(stations, dtype=np.float64) * (
            0.6 + 0.8 * noise.uniform(seed, "station-weight", key, np.arange(len(stations)))
        )
        station_mw = total_mw * weights / weights.sum()
        lat0, lon0 = REGION_CENTRES[region]
        for s, (n_units, mw) in enumerate(zip(stations, station_mw, strict=True)):
            name = namer.station_name()
            code = namer.code(name, 5)
            u = noise.uniform(seed, "station", key, s, np.arange(8))
            unit_mw = _round_capacity(mw / n_units, tech)
            owner = _owner(region, tech, name, info, float(u[0]))
            lat = lat0 + (u[1] - 0.5) * 4.0
            lon = lon0 + (u[2] - 0.5) * 4.0
            tracking = bool(u[3] < 0.7)
            gen_indices: list[int] = []
            for i in range(1, n_units + 1):
                duid = _duid(code, info, i, n_units, bool(u[4] < 0.3))
                gen_indices.append(len(rows))
                rows.append(
                    _Row(
                        duid,
                        f"{name} {info.station_suffix}",
                        owner,
                        tech,
                        region_index,
                        unit_mw,
                        _registered(unit_mw, tech, float(u[5])),
                        lat,
                        lon,
                        tracking,
                    )
                )
            if tech is Tech.BATTERY:
                hours = (1.0, 1.3, 2.0, 2.0, 2.0, 4.0)[int(u[6] * 6)]
                for index in gen_indices:
                    storage_specs.append(
                        (rows[index].duid, region_index, [index], None, unit_mw,
                         unit_mw, round(unit_mw * hours, 1), 0.85)
                    )  # fmt: skip
            elif tech is Tech.PUMPED_HYDRO:
                pump_mw = _round_capacity(unit_mw * n_units * 0.8, tech)
                hours = 8.0 + 12.0 * float(u[6])
                pump_index = len(rows)
                rows.append(
                    _Row(
                        f"{code}PUMP1",
                        f"{name} {info.station_suffix}",
                        owner,
                        Tech.PUMP,
                        region_index,
                        pump_mw,
                        pump_mw,
                        lat,
                        lon,
                        False,
                    )
                )
                power = unit_mw * n_units
                storage_specs.append(
                    (name, region_index, gen_indices, pump_index, power, pump_mw,
                     round(power * hours, 0), 0.76)
                )  # fmt: skip
    duids = [r.duid for r in rows]
    if len(set(duids)) != len(duids):
        raise ConfigError(
            f"duplicate DUIDs in the synthetic fleet for seed {seed}; try another seed"
        )
    order = sorted(range(len(rows)), key=lambda i: rows[i].duid)
    position = {old: new for new, old in enumerate(order)}
    rows = [rows[i] for i in order]
    storage = tuple(
        StoragePlant(
            name,
            region,
            tuple(position[g] for g in gens),
            position[load] if load is not None else None,
            power,
            charge,
            energy,
            efficiency,
        )
        for name, region, gens, load, power, charge, energy, efficiency in storage_specs
    )
    storage_mwh = np.zeros(len(rows))
    for plant in storage:
        for g in plant.gen_units:
            storage_mwh[g] = plant.energy_mwh / len(plant.gen_units)
    band_price, band_share, band_kind = _bands(rows, seed)
    return Fleet(
        seed=seed,
        duid=tuple(r.duid for r in rows),
        station=tuple(r.station for r in rows),
        participant=tuple(r.participant for r in rows),
        tech=tuple(r.tech for r in rows),
        region=np.array([r.region for r in rows], dtype=np.int64),
        capacity=np.array([r.capacity for r in rows], dtype=np.float64),
        registered_capacity=np.array([r.registered for r in rows], dtype=np.float64),
        storage_mwh=storage_mwh,
        lat=np.array([r.lat for r in rows], dtype=np.float64),
        lon=np.array([r.lon for r in rows], dtype=np.float64),
        tracking=np.array([r.tracking for r in rows], dtype=bool),
        band_price=band_price,
        band_share=band_share,
        band_kind=band_kind,
        storage=storage,
    )


def technology_text(fleet: Fleet, unit: int) -> str:
    """AEMO's "Technology Type - Descriptor" for a unit (fixed-panel solar differs)."""
    tech = fleet.tech[unit]
    if tech is Tech.SOLAR and not bool(fleet.tracking[unit]):
        return "Photovoltaic Flat panel"
    return TECHS[tech].technology_descriptor


def _round_capacity(mw: float, tech: Tech) -> float:
    """Capacities as AEMO lists them: whole MW for big thermal units, 0.1 MW otherwise."""
    if tech in (Tech.COAL_BLACK, Tech.COAL_BROWN, Tech.GAS_CCGT, Tech.GAS_OTHER):
        return float(max(5, round(mw / 5) * 5))
    return float(max(1.0, round(mw, 1)))


def _registered(max_mw: float, tech: Tech, u: float) -> float:
    """Registered capacity: a little below the maximum for thermal, above it for inverters."""
    if tech in (Tech.SOLAR, Tech.WIND):
        return round(max_mw * (1.0 + 0.25 * u), 2)
    return float(round(max_mw * (0.93 + 0.07 * u)))


def _owner(region: str, tech: Tech, name: str, info: TechInfo, u: float) -> str:
    """Portfolio owners for thermal and hydro; a project company for wind, solar, batteries."""
    if tech in (Tech.WIND, Tech.SOLAR, Tech.BATTERY, Tech.BIOMASS):
        return f"{name} {info.station_suffix.split()[0]} Pty Ltd"
    owners = _OWNERS[region]
    return owners[int(u * len(owners))]


def _duid(code: str, info: TechInfo, i: int, n_units: int, zero_pad: bool) -> str:
    """A DUID in AEMO's style: ``TARRA1``, ``BW01``-like ``TARR01``, ``KOORWF1``, ``KOORBESS1``."""
    if info.duid_infix in ("WF", "SF", "BESS"):
        return f"{code}{info.duid_infix}{i}"
    if info.duid_infix == "GT" and n_units > 1:
        return f"{code}GT{i}"
    if zero_pad and n_units > 1 and len(code) <= 4:
        return f"{code}{i:02d}"
    return f"{code}{i}"


def _bands(rows: list[_Row], seed: int) -> tuple[FloatArray, FloatArray, IntArray]:
    """Base offer prices, shares and kinds per unit, drawn within each technology's bands."""
    n = len(rows)
    price = np.zeros((n, N_BANDS))
    share = np.zeros((n, N_BANDS))
    kind = np.zeros((n, N_BANDS), dtype=np.int64)
    draws = noise.uniform(seed, "bands", np.arange(n)[:, None], np.arange(N_BANDS)[None, :])
    for u, row in enumerate(rows):
        for b, band in enumerate(TECHS[row.tech].bands):
            price[u, b] = band.low + (band.high - band.low) * draws[u, b]
            share[u, b] = band.share
            kind[u, b] = BAND_KINDS[band.index]
    return price, share, kind
