"""The synthetic NEM's market: demand, rooftop PV, availability, storage, dispatch and prices.

:func:`simulate` computes whole calendar days (intervals ending 00:05 .. 24:00) as a pure function
of the fleet, the seed and the day, so that a month, a market day or a single interval give the
same numbers wherever they are cut (see ``noise.py``). Per day:

1. **Demand** per region: a daily shape (morning ramp, evening peak), weekends, the Christmas
   lull, cooling and heating load from the weather, and noise. Rooftop PV (half-hourly in the
   files, from 5-minute output here) is subtracted to give operational demand (TOTALDEMAND).
2. **Availability** per unit: the weather for wind and solar, seasons for hydro and the sugar
   crushing season for bagasse, and outages for thermal units: trips of hours to days, followed
   by a ramp back, and planned outages of weeks.
3. **Storage** (batteries, pumped hydro) charges in the day's lowest residual-demand intervals
   and discharges in the highest, simulated interval by interval with its state of charge kept in
   0..MWh and back at half full at midnight (so no state crosses a day).
4. **Dispatch**: each unit offers bands (coal must-run at the floor, renewables below zero, fuel
   cost, water value, scarcity bands up to the market price cap). Regional supply curves are built
   on a price grid and cleared over the NEM's radial network (QLD - NSW - VIC - SA, VIC - TAS)
   within interconnector limits, with losses shared half and half by the two ends; each region's
   price is where its own supply meets its demand plus net export. Every unit's output is its
   availability times the share of its offer cleared at its region's price, so for every region
   and interval::

       sum(SCADA of generators and batteries) - sum(SCADA of pumps) = TOTALDEMAND + NETINTERCHANGE

   where NETINTERCHANGE (net export) = sum over its interconnectors of +-MWFLOW + MWLOSSES / 2.

Evening peaks, negative prices at midday in spring (must-run coal and renewables bidding below
zero), occasional scarcity events priced at the cap, and trips of coal units all come out of this.
Prices stay within the floor (-1,000 $/MWh) and the market price cap of the financial year.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from nemdash.demo import noise, weather
from nemdash.demo.fleet import STORAGE, TECHS, VARIABLE, Fleet, Tech
from nemdash.demo.noise import EPOCH, FloatArray, IntArray

logger = logging.getLogger(__name__)

INTERVALS_PER_DAY = 288
NSW, QLD, SA, TAS, VIC = range(5)  # indices into nemdash.tables.REGIONS

MARKET_PRICE_FLOOR = -1000.0

#: Market price cap ($/MWh) by the financial year starting 1 July of the given year (AEMC's
#: reliability standard and settings; the last value holds for later years).
MARKET_PRICE_CAP: dict[int, float] = {
    2015: 13800.0,
    2016: 14000.0,
    2017: 14200.0,
    2018: 14500.0,
    2019: 14700.0,
    2020: 15000.0,
    2021: 15100.0,
    2022: 15500.0,
    2023: 16600.0,
    2024: 17500.0,
    2025: 20300.0,
    2026: 22800.0,
}


def market_price_cap(day: date) -> float:
    """The market price cap of the financial year (1 July - 30 June) holding ``day``."""
    year = day.year if day.month >= 7 else day.year - 1
    year = min(max(year, min(MARKET_PRICE_CAP)), max(MARKET_PRICE_CAP))
    return MARKET_PRICE_CAP[year]


@dataclass(frozen=True)
class Interconnector:
    """A real NEM interconnector: positive flow runs from ``from_region`` to ``to_region``."""

    id: str
    from_region: int
    to_region: int
    export_mw: float
    """Nominal limit in the positive direction, MW."""
    import_mw: float
    """Nominal limit in the negative direction, MW (a magnitude; files write it negative)."""
    loss_linear: float
    loss_quadratic: float
    export_genconid: str
    import_genconid: str


#: The six interconnectors in AEMO's file order, with the real sign convention (NEM-FACTS.md).
INTERCONNECTORS: tuple[Interconnector, ...] = (
    Interconnector("N-Q-MNSP1", NSW, QLD, 107, 210, 0.02, 1.0e-4, "N>Q-NIL_TNRA", "Q>N-NIL_TNRA"),
    Interconnector("NSW1-QLD1", NSW, QLD, 700, 1150, 0.0, 2.5e-5, "N::Q_NIL_QNI", "Q::N_NIL_QNI"),
    Interconnector("T-V-MNSP1", TAS, VIC, 478, 478, 0.02, 3.0e-5, "T_V_NIL_BL1", "V_T_NIL_BL1"),
    Interconnector("V-S-MNSP1", VIC, SA, 220, 200, 0.03, 1.0e-4, "V::S_NIL_MLK", "S::V_NIL_MLK"),
    Interconnector("V-SA", VIC, SA, 650, 600, 0.0, 4.0e-5, "V::S_NIL_HYW", "S::V_NIL_HYW"),
    Interconnector("VIC1-NSW1", VIC, NSW, 1300, 1000, 0.0, 5.0e-5, "V::N_NIL_VNI", "N::V_NIL_VNI"),
)
N_LINKS = len(INTERCONNECTORS)

#: Demand per region (NSW1, QLD1, SA1, TAS1, VIC1): underlying MW (2024, rooftop included),
#: cooling MW per °C above a threshold, heating MW per °C below one, and how strongly the daily
#: shape applies (Tasmania's smelters flatten it).
DEMAND: tuple[tuple[float, float, float, float, float, float], ...] = (
    (8300.0, 190.0, 24.0, 130.0, 16.0, 1.0),
    (6700.0, 210.0, 25.0, 40.0, 15.0, 0.9),
    (1480.0, 65.0, 26.0, 28.0, 13.0, 1.1),
    (1080.0, 6.0, 24.0, 26.0, 12.0, 0.45),
    (5300.0, 170.0, 25.0, 150.0, 14.0, 1.0),
)
#: Underlying demand through the day (index = hour, NEM time), before weather.
DAILY_SHAPE = np.array(
    [0.86, 0.82, 0.80, 0.79, 0.80, 0.85, 0.93, 1.00, 1.02, 1.01, 1.00, 0.99,
     0.98, 0.98, 0.99, 1.01, 1.06, 1.13, 1.16, 1.12, 1.06, 1.00, 0.95, 0.90]
)  # fmt: skip

#: Rooftop PV in the files: the five regions and the sub-regions, in AEMO's (alphabetical) order.
ROOFTOP_ORDER: tuple[str, ...] = (
    "NSW1", "QLD1", "QLDC", "QLDN", "QLDS", "SA1", "TAS1", "TASN", "TASS", "VIC1",
)  # fmt: skip
#: Installed rooftop PV in mid-2024 (MW) of each area that is not a sum of others.
ROOFTOP_CAPACITY: dict[str, float] = {
    "NSW1": 6000.0,
    "QLDC": 500.0,
    "QLDN": 1100.0,
    "QLDS": 3900.0,
    "SA1": 1900.0,
    "TASN": 120.0,
    "TASS": 180.0,
    "VIC1": 4800.0,
}
_ROOFTOP_LEAVES = tuple(ROOFTOP_CAPACITY)
_ROOFTOP_PARTS = {"QLD1": ("QLDC", "QLDN", "QLDS"), "TAS1": ("TASN", "TASS")}

#: The price grid on which supply curves are built ($/MWh); the last two points are set to the
#: day's cap less a cent and the cap.
PRICE_GRID = np.array(
    [-1000, -999, -500, -300, -200, -150, -100, -80, -60, -50, -40, -30, -20, -15, -10, -5, 0,
     5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 90, 100, 110, 120, 135, 150,
     170, 200, 230, 270, 300, 350, 400, 500, 600, 800, 1000, 1300, 1700, 2200, 3000, 4000, 5500,
     7500, 10000, 13000, 0, 0],
    dtype=np.float64,
)  # fmt: skip
_K = len(PRICE_GRID)
_REGIMES = 3  # 0 normal, 1 evening peak (water and gas priced up), 2 scarcity event
_LOOKBACK_DAYS = 45  # longest outage, so that a chunk sees outages that began before it


@dataclass(frozen=True)
class MarketDays:
    """Everything the files need for whole calendar days (times are period-ending).

    Arrays have one row per 5-minute interval (``interval``: intervals since
    :data:`~nemdash.demo.noise.EPOCH` at the interval end) except the rooftop ones, which have
    one row per half hour. Regions follow :data:`nemdash.tables.REGIONS`, interconnectors
    :data:`INTERCONNECTORS`, units the fleet, storage plants ``fleet.storage``.
    """

    first_day: date
    n_days: int
    interval: IntArray
    scadavalue: FloatArray
    """(intervals, units) MW; pumps positive when pumping, batteries negative when charging."""
    available: FloatArray
    """(intervals, units) MW the unit could have produced (UIGF for wind and solar)."""
    rrp: FloatArray
    intervention: np.ndarray
    """(intervals,) bool: an intervention pricing run adds INTERVENTION = 1 rows."""
    rrp_intervention: FloatArray
    totaldemand: FloatArray
    demandforecast: FloatArray
    """(intervals, regions) change of TOTALDEMAND since the previous interval of the day, MW."""
    netinterchange: FloatArray
    dispatchablegeneration: FloatArray
    dispatchableload: FloatArray
    availablegeneration: FloatArray
    availableload: FloatArray
    ss_solar_uigf: FloatArray
    ss_wind_uigf: FloatArray
    ss_solar_clearedmw: FloatArray
    ss_wind_clearedmw: FloatArray
    bdu_energy_storage: FloatArray
    bdu_initial_energy_storage: FloatArray
    bdu_clearedmw_gen: FloatArray
    bdu_clearedmw_load: FloatArray
    bdu_max_avail: FloatArray
    bdu_min_avail: FloatArray
    demand_unserved: FloatArray
    """(intervals, regions) MW of demand that could not be met at the cap (positive), or that
    had to be added to absorb must-run output at the floor (negative); both are rare, and
    TOTALDEMAND already accounts for them."""
    mwflow: FloatArray
    meteredmwflow: FloatArray
    mwlosses: FloatArray
    exportlimit: FloatArray
    importlimit: FloatArray
    """(intervals, interconnectors) MW, negative: the flow bound in the negative direction."""
    marginalvalue: FloatArray
    fcas_rrp: FloatArray
    """(intervals, regions, 10) FCAS prices: raise 6s, 60s, 5min, reg, lower 6s, 60s, 5min,
    reg, raise 1s, lower 1s."""
    state_of_charge: FloatArray
    """(intervals, storage plants) MWh at the interval end."""
    rooftop_interval: IntArray
    """(half hours,) intervals since the epoch at each half-hour end."""
    rooftop_power: FloatArray
    """(half hours, 10) average MW in :data:`ROOFTOP_ORDER`, rounded to 3 decimals, with
    QLD1 and TAS1 the exact sums of their sub-regions."""
    market_price_cap: FloatArray
    """(days,) the cap of each day, $/MWh."""

    @property
    def interval_end(self) -> np.ndarray:
        """Interval ends as ``datetime64[m]`` (naive NEM time)."""
        return np.datetime64(EPOCH, "m") + self.interval * np.timedelta64(5, "m")


def day_number(day: date) -> int:
    """Days since the epoch."""
    return (day - EPOCH.date()).days


def interval_number(interval_end: datetime) -> int:
    """Intervals since the epoch of a naive NEM-time interval end on the 5-minute grid."""
    return int((interval_end.replace(tzinfo=None) - EPOCH) // timedelta(minutes=5))


def simulate(fleet: Fleet, first_day: date, n_days: int) -> MarketDays:
    """Simulate the calendar days ``first_day`` .. ``first_day + n_days - 1``."""
    seed = fleet.seed
    if n_days < 1:
        raise ValueError(f"simulate needs at least one day, got n_days={n_days}")
    d0 = day_number(first_day)
    days = np.arange(d0, d0 + n_days, dtype=np.int64)
    interval = (d0 * INTERVALS_PER_DAY + 1 + np.arange(n_days * INTERVALS_PER_DAY)).astype(np.int64)
    hours = interval / 12.0
    n_units = len(fleet)

    temp = weather.temperature(seed, hours)
    areas = np.arange(len(weather.AREAS), dtype=np.int64)
    cloud = weather.cloudiness(seed, hours, areas)
    underlying = _underlying_demand(seed, hours, temp)
    rooftop_leaf = _rooftop_leaves(hours, cloud)
    rooftop_region = _rooftop_by_region(rooftop_leaf)
    # Operational demand never falls below a floor: rooftop PV is curtailed instead (backstop).
    floor = 0.12 * np.array([d[0] for d in DEMAND])
    operational = underlying - rooftop_region
    short = np.maximum(floor[None, :] - operational, 0.0)
    scale = np.where(
        rooftop_region > 0, (rooftop_region - short) / np.maximum(rooftop_region, 1e-9), 1.0
    )
    operational = operational + short
    rooftop_leaf = _scale_leaves(rooftop_leaf, scale)

    available = _availability(fleet, seed, hours, days, cloud)
    storage_power, soc, soc_start = _storage(fleet, seed, hours, operational, available)

    scada = available.copy()
    storage_units = fleet.units_of(*STORAGE)
    scada[:, storage_units] = 0.0
    storage_net_region = np.zeros_like(operational)
    for p, plant in enumerate(fleet.storage):
        power = storage_power[:, p]
        gen_caps = fleet.capacity[list(plant.gen_units)]
        for g, cap in zip(plant.gen_units, gen_caps, strict=True):
            if plant.load_unit is None:
                scada[:, g] = power
            else:
                scada[:, g] = np.maximum(power, 0.0) * cap / gen_caps.sum()
        if plant.load_unit is not None:
            scada[:, plant.load_unit] = np.maximum(-power, 0.0)
        storage_net_region[:, plant.region] += power

    limits = _limits(seed, hours, days)
    dispatch = _dispatch(
        fleet, seed, first_day, n_days, hours, available, operational - storage_net_region, limits
    )
    bid_units = dispatch.units
    scada[:, bid_units] = dispatch.output
    # Operational demand as metered = what was supplied (unserved demand is rare and small).
    totaldemand = operational - dispatch.unserved

    solar = fleet.units_of(Tech.SOLAR)
    wind = fleet.units_of(Tech.WIND)
    batteries = [p for p, plant in enumerate(fleet.storage) if plant.load_unit is None]
    pumps = fleet.units_of(Tech.PUMP)
    generating = np.array([t is not Tech.PUMP for t in fleet.tech])
    region_of = fleet.region

    def by_region(values: FloatArray, units: IntArray) -> FloatArray:
        out = np.zeros((len(interval), 5))
        for r in range(5):
            members = units[region_of[units] == r]
            if len(members):
                out[:, r] = values[:, members].sum(axis=1)
        return out

    all_units = np.arange(n_units, dtype=np.int64)
    positive = np.where(generating[None, :], np.maximum(scada, 0.0), 0.0)
    consuming = np.where(generating[None, :], np.maximum(-scada, 0.0), np.maximum(scada, 0.0))
    avail_gen = available.copy()
    storage_gen = [g for plant in fleet.storage for g in plant.gen_units]
    avail_gen[:, storage_gen] = fleet.capacity[storage_gen][None, :]
    avail_gen[:, pumps] = 0.0
    charge_capacity = np.zeros(5)
    for plant in fleet.storage:
        charge_capacity[plant.region] += plant.charge_mw

    battery_region = np.zeros((len(interval), 5))
    battery_start = np.zeros((len(interval), 5))
    battery_gen = np.zeros((len(interval), 5))
    battery_load = np.zeros((len(interval), 5))
    battery_max = np.zeros(5)
    battery_min = np.zeros(5)
    for p in batteries:
        plant = fleet.storage[p]
        battery_region[:, plant.region] += soc[:, p]
        battery_start[:, plant.region] += soc_start[:, p]
        battery_gen[:, plant.region] += np.maximum(storage_power[:, p], 0.0)
        battery_load[:, plant.region] += np.maximum(-storage_power[:, p], 0.0)
        battery_max[plant.region] += plant.power_mw
        battery_min[plant.region] += plant.charge_mw

    intervention, rrp_intervention = _intervention(seed, days, dispatch.rrp)
    rooftop_interval, rooftop_power = _rooftop_half_hours(interval, rooftop_leaf)
    return MarketDays(
        first_day=first_day,
        n_days=n_days,
        interval=interval,
        scadavalue=scada,
        available=available,
        rrp=dispatch.rrp,
        intervention=intervention,
        rrp_intervention=rrp_intervention,
        totaldemand=totaldemand,
        demandforecast=_within_day_change(totaldemand),
        netinterchange=dispatch.netinterchange,
        dispatchablegeneration=by_region(positive, all_units),
        dispatchableload=by_region(consuming, all_units),
        availablegeneration=by_region(avail_gen, all_units),
        availableload=np.broadcast_to(charge_capacity, (len(interval), 5)).copy(),
        ss_solar_uigf=by_region(available, solar),
        ss_wind_uigf=by_region(available, wind),
        ss_solar_clearedmw=by_region(scada, solar),
        ss_wind_clearedmw=by_region(scada, wind),
        bdu_energy_storage=battery_region,
        bdu_initial_energy_storage=battery_start,
        bdu_clearedmw_gen=battery_gen,
        bdu_clearedmw_load=battery_load,
        bdu_max_avail=np.broadcast_to(battery_max, (len(interval), 5)).copy(),
        bdu_min_avail=np.broadcast_to(battery_min, (len(interval), 5)).copy(),
        demand_unserved=dispatch.unserved,
        mwflow=dispatch.mwflow,
        meteredmwflow=dispatch.meteredmwflow,
        mwlosses=dispatch.mwlosses,
        exportlimit=limits.export,
        importlimit=-limits.import_,
        marginalvalue=dispatch.marginalvalue,
        fcas_rrp=_fcas(seed, hours),
        state_of_charge=soc,
        rooftop_interval=rooftop_interval,
        rooftop_power=rooftop_power,
        market_price_cap=np.array(
            [market_price_cap(first_day + timedelta(days=i)) for i in range(n_days)]
        ),
    )


# ----------------------------------------------------------------------------------------------
# Demand and rooftop PV


def _within_day_change(values: FloatArray) -> FloatArray:
    """Change since the previous interval of the same day (0 for a day's first interval)."""
    days = values.reshape(-1, INTERVALS_PER_DAY, values.shape[1])
    change = np.zeros_like(days)
    change[:, 1:] = np.diff(days, axis=1)
    result: FloatArray = change.reshape(values.shape)
    return result


def _underlying_demand(seed: int, hours: FloatArray, temp: FloatArray) -> FloatArray:
    """Demand before rooftop PV, per region (MW), shape (intervals, 5)."""
    mid = hours - 2.5 / 60.0
    clock = np.mod(mid, 24.0)
    shape = np.interp(clock, np.arange(25.0), np.append(DAILY_SHAPE, DAILY_SHAPE[0]))
    weekday = np.mod(np.floor(mid / 24.0).astype(np.int64) + 5, 7)  # 2000-01-01 was a Saturday
    weekend = weekday >= 5
    daytime = (clock >= 7.0) & (clock < 21.0)
    weekend_factor = np.where(weekend, np.where(daytime, 0.93, 0.97), 1.0)
    doy = weather.day_of_year(mid)
    holiday = np.where((doy >= 358.0) | (doy < 3.0), 0.9, 1.0)
    years = mid / 24.0 / 365.2425 + 2000.0
    trend = 1.0 + 0.005 * (years - 2024.5)
    result = np.zeros((len(hours), 5))
    for r, (base, cool, cool_at, heat, heat_at, strength) in enumerate(DEMAND):
        profile = 1.0 + strength * (shape - 1.0)
        wobble = 0.012 * noise.smooth(seed, "demand-hour", hours, 2.0, [r])[:, 0]
        wobble += 0.004 * noise.smooth(seed, "demand-minute", hours, 0.25, [r])[:, 0]
        weather_load = cool * np.maximum(temp[:, r] - cool_at, 0.0) ** 1.2 + heat * np.maximum(
            heat_at - temp[:, r], 0.0
        )
        result[:, r] = (
            base * trend * profile * weekend_factor * holiday * (1.0 + wobble) + weather_load
        )
    return result


def _rooftop_leaves(hours: FloatArray, cloud: FloatArray) -> FloatArray:
    """5-minute rooftop PV (MW) of each area in ``ROOFTOP_CAPACITY`` order."""
    area_index = np.array([weather.AREAS.index(a) for a in _ROOFTOP_LEAVES], dtype=np.int64)
    output = weather.rooftop_output(hours, area_index, cloud[:, area_index])
    years = hours / 24.0 / 365.2425 + 2000.0
    growth = np.clip(1.12 ** (years - 2024.5), 0.25, 2.2)
    capacity = np.array([ROOFTOP_CAPACITY[a] for a in _ROOFTOP_LEAVES])
    result: FloatArray = output * capacity[None, :] * growth[:, None]
    return result


def _rooftop_by_region(leaves: FloatArray) -> FloatArray:
    """Sum the rooftop areas into the five regions."""
    result = np.zeros((leaves.shape[0], 5))
    for r, region in enumerate(("NSW1", "QLD1", "SA1", "TAS1", "VIC1")):
        parts = _ROOFTOP_PARTS.get(region, (region,))
        for part in parts:
            result[:, r] += leaves[:, _ROOFTOP_LEAVES.index(part)]
    return result


def _scale_leaves(leaves: FloatArray, region_scale: FloatArray) -> FloatArray:
    """Apply a per-region curtailment factor to every rooftop area of the region."""
    result = leaves.copy()
    for r, region in enumerate(("NSW1", "QLD1", "SA1", "TAS1", "VIC1")):
        for part in _ROOFTOP_PARTS.get(region, (region,)):
            result[:, _ROOFTOP_LEAVES.index(part)] *= region_scale[:, r]
    return result


def _rooftop_half_hours(interval: IntArray, leaves: FloatArray) -> tuple[IntArray, FloatArray]:
    """Half-hour averages in :data:`ROOFTOP_ORDER`; regions are sums of rounded sub-regions."""
    n_half = len(interval) // 6
    mean = leaves.reshape(n_half, 6, leaves.shape[1]).mean(axis=1)
    rounded = np.round(mean, 3) + 0.0
    out = np.zeros((n_half, len(ROOFTOP_ORDER)))
    for j, name in enumerate(ROOFTOP_ORDER):
        if name in _ROOFTOP_PARTS:
            total = sum(rounded[:, _ROOFTOP_LEAVES.index(p)] for p in _ROOFTOP_PARTS[name])
            out[:, j] = np.round(total, 3) + 0.0
        else:
            out[:, j] = rounded[:, _ROOFTOP_LEAVES.index(name)]
    return interval[5::6].copy(), out


# ----------------------------------------------------------------------------------------------
# Availability


def _availability(
    fleet: Fleet, seed: int, hours: FloatArray, days: IntArray, cloud: FloatArray
) -> FloatArray:
    """MW each unit could produce in each interval (storage: its capacity)."""
    n = len(fleet)
    avail = np.broadcast_to(fleet.capacity, (len(hours), n)).copy()

    solar = fleet.units_of(Tech.SOLAR)
    if len(solar):
        area_cloud = cloud[:, fleet.region[solar]]
        avail[:, solar] = fleet.capacity[solar] * weather.solar_output(
            seed, hours, fleet.lat[solar], fleet.lon[solar], fleet.tracking[solar], area_cloud,
            solar,
        )  # fmt: skip
    wind = fleet.units_of(Tech.WIND)
    if len(wind):
        avail[:, wind] = fleet.capacity[wind] * weather.wind_output(
            seed, hours, wind, fleet.region[wind]
        )

    hydro = fleet.units_of(Tech.HYDRO)
    if len(hydro):
        tas = fleet.region[hydro] == TAS
        wet = weather.season(hours, 245.0)[:, None]  # spring inflows on the mainland
        slow = noise.smooth(seed, "hydro-storage", hours, 24.0 * 12, hydro)
        level = np.where(tas[None, :], 0.85 + 0.08 * wet, 0.62 + 0.22 * wet) + 0.06 * slow
        avail[:, hydro] = fleet.capacity[hydro] * np.clip(level, 0.25, 1.0)

    biomass = fleet.units_of(Tech.BIOMASS)
    if len(biomass):
        crushing = weather.season(hours, 260.0)[:, None] > -0.2  # June to November
        qld = (fleet.region[biomass] == QLD)[None, :]
        level = np.where(qld, np.where(crushing, 0.85, 0.08), 0.7)
        avail[:, biomass] = fleet.capacity[biomass] * level

    thermal = np.array(
        [i for i in range(n) if fleet.tech[i] in (
            Tech.COAL_BLACK, Tech.COAL_BROWN, Tech.GAS_CCGT, Tech.GAS_OCGT, Tech.GAS_OTHER,
            Tech.DISTILLATE, Tech.BIOMASS,
        )],
        dtype=np.int64,
    )  # fmt: skip
    if len(thermal):
        derate = np.clip(0.95 + 0.03 * noise.smooth(seed, "derate", hours, 48.0, thermal), 0.8, 1)
        factor = derate * _outages(fleet, seed, days, thermal)
        avail[:, thermal] *= factor
    result: FloatArray = np.maximum(avail, 0.0)
    return result


#: Outage behaviour: (trips per day, median trip hours, planned outages per day).
_OUTAGE_RATES: dict[Tech, tuple[float, float, float]] = {
    Tech.COAL_BLACK: (1 / 45, 20.0, 1 / 700),
    Tech.COAL_BROWN: (1 / 50, 24.0, 1 / 800),
    Tech.GAS_CCGT: (1 / 90, 12.0, 1 / 900),
    Tech.GAS_OCGT: (1 / 200, 6.0, 1 / 1500),
    Tech.GAS_OTHER: (1 / 120, 10.0, 1 / 1000),
    Tech.DISTILLATE: (1 / 300, 6.0, 0.0),
    Tech.BIOMASS: (1 / 150, 10.0, 0.0),
}


def _outages(fleet: Fleet, seed: int, days: IntArray, units: IntArray) -> FloatArray:
    """Availability factor (0..1) of thermal units through trips and planned outages.

    A trip starts at a random interval of a day, lasts hours to days (log-normal) and is followed
    by a six-hour ramp back (coal) or a quick return (gas); planned outages last two to six weeks.
    A unit larger than its technology's typical unit (a small fleet) loses one typical unit's
    worth, not everything.
    """
    first = int(days[0]) * INTERVALS_PER_DAY
    n_intervals = len(days) * INTERVALS_PER_DAY
    factor = np.ones((n_intervals, len(units)))
    start_days = np.arange(int(days[0]) - _LOOKBACK_DAYS, int(days[-1]) + 1, dtype=np.int64)
    rates = np.array([_OUTAGE_RATES[fleet.tech[u]] for u in units])
    u_trip = noise.uniform(seed, "trip", start_days[:, None], units[None, :])
    u_plan = noise.uniform(seed, "planned", start_days[:, None], units[None, :])
    tripped = u_trip < rates[None, :, 0]
    planned = u_plan < rates[None, :, 2]
    for kind, hit in (("trip", tripped), ("planned", planned)):
        for d_idx, j in zip(*np.nonzero(hit), strict=True):
            day = int(start_days[d_idx])
            unit = int(units[j])
            draws = noise.uniform(seed, f"{kind}-shape", day, unit, np.arange(3))
            start = day * INTERVALS_PER_DAY + int(draws[0] * INTERVALS_PER_DAY)
            if kind == "trip":
                hours = float(np.clip(rates[j, 1] * np.exp(1.0 * noise.normal(seed, "trip-len",
                                      day, unit)[0]), 1.0, 24.0 * 10))  # fmt: skip
                ramp = 72 if fleet.tech[unit] in (Tech.COAL_BLACK, Tech.COAL_BROWN) else 6
            else:
                hours = 24.0 * (14 + 28 * float(draws[1]))
                ramp = 72
            end = start + int(hours * 12)
            depth = min(1.0, TECHS[fleet.tech[unit]].typical_unit_mw / fleet.capacity[unit])
            lo, hi = max(start, first), min(end + ramp, first + n_intervals)
            if lo >= hi:
                continue
            t = np.arange(lo, hi)
            back = np.clip((t - end) / ramp, 0.0, 1.0)  # 0 during the outage, then ramps to 1
            level = 1.0 - depth * (1.0 - back)
            rows = t - first
            factor[rows, j] = np.minimum(factor[rows, j], level)
    return factor


# ----------------------------------------------------------------------------------------------
# Storage


def _storage(
    fleet: Fleet,
    seed: int,
    hours: FloatArray,
    operational: FloatArray,
    available: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Net output (MW, + discharge), state of charge at the end and start of each interval (MWh).

    Each plant ranks the day's intervals by residual demand (regional and NEM-wide, plus its
    own jitter), charges in the lowest ranks and discharges in the highest, then is simulated
    interval by interval: the state of charge is kept within 0..MWh and within reach of half
    full at midnight, so every day starts and ends at half full.
    """
    plants = fleet.storage
    n_t = len(hours)
    n_days = n_t // INTERVALS_PER_DAY
    if not plants:
        empty = np.zeros((n_t, 0))
        return empty, empty, empty
    variable = np.array([t in VARIABLE for t in fleet.tech])
    residual = operational.copy()
    for r in range(5):
        members = variable & (fleet.region == r)
        residual[:, r] -= available[:, members].sum(axis=1)
    nem = residual.sum(axis=1, keepdims=True)

    def standardise(x: FloatArray) -> FloatArray:
        days = x.reshape(n_days, INTERVALS_PER_DAY, -1)
        mean = days.mean(axis=1, keepdims=True)
        std = days.std(axis=1, keepdims=True) + 1e-9
        result: FloatArray = ((days - mean) / std).reshape(x.shape)
        return result

    score_region = standardise(residual)
    score_nem = standardise(nem)
    n_plants = len(plants)
    region = np.array([p.region for p in plants], dtype=np.int64)
    jitter = noise.smooth(seed, "storage-jitter", hours, 1.5, np.arange(n_plants))
    score = 0.5 * score_region[:, region] + 0.5 * score_nem + 0.35 * jitter
    by_day = score.reshape(n_days, INTERVALS_PER_DAY, n_plants)
    rank = np.argsort(np.argsort(by_day, axis=1, kind="stable"), axis=1, kind="stable")

    power = np.array([p.power_mw for p in plants])
    charge = np.array([p.charge_mw for p in plants])
    energy = np.array([p.energy_mwh for p in plants])
    efficiency = np.array([p.efficiency for p in plants])
    n_charge = np.ceil(energy / (charge * efficiency) * 12.0 * 1.1)
    n_discharge = np.ceil(energy / power * 12.0)
    taper_c = np.maximum(0.3 * n_charge, 1.0)
    taper_d = np.maximum(0.3 * n_discharge, 1.0)
    want_charge = charge * np.clip((n_charge - rank) / taper_c, 0.0, 1.0)
    want_discharge = power * np.clip((rank - (INTERVALS_PER_DAY - 1 - n_discharge)) / taper_d, 0, 1)
    desired = want_discharge - want_charge  # (days, 288, plants), MW

    half = 0.5 * energy
    soc = np.broadcast_to(half, (n_days, n_plants)).copy()
    out = np.zeros((n_days, INTERVALS_PER_DAY, n_plants))
    soc_end = np.zeros_like(out)
    soc_begin = np.zeros_like(out)
    step_in = charge * efficiency / 12.0  # MWh gained by one interval of full charging
    step_out = power / 12.0
    for i in range(INTERVALS_PER_DAY):
        remaining = INTERVALS_PER_DAY - 1 - i
        want = desired[:, i, :]
        gain = np.where(want < 0.0, -want * efficiency, -want) / 12.0
        lo = np.maximum(0.0, half - remaining * step_in)
        hi = np.minimum(energy, half + remaining * step_out)
        target = np.clip(soc + gain, lo, hi)
        delta = target - soc
        mw = np.where(delta > 0.0, -delta * 12.0 / efficiency, -delta * 12.0)
        mw = np.clip(mw, -charge, power)
        soc_begin[:, i, :] = soc
        soc = np.clip(soc + np.where(mw < 0.0, -mw * efficiency, -mw) / 12.0, 0.0, energy)
        out[:, i, :] = mw
        soc_end[:, i, :] = soc
    return (
        out.reshape(n_t, n_plants),
        soc_end.reshape(n_t, n_plants),
        soc_begin.reshape(n_t, n_plants),
    )


# ----------------------------------------------------------------------------------------------
# Interconnector limits and dispatch


@dataclass(frozen=True)
class _Limits:
    export: FloatArray
    """(intervals, links) MW, >= 0."""
    import_: FloatArray
    """(intervals, links) MW, >= 0 (magnitude of the negative bound)."""


def _limits(seed: int, hours: FloatArray, days: IntArray) -> _Limits:
    """Interconnector limits: nominal, varying with system conditions, with rare outages."""
    links = np.arange(N_LINKS, dtype=np.int64)
    nominal_export = np.array([ic.export_mw for ic in INTERCONNECTORS])
    nominal_import = np.array([ic.import_mw for ic in INTERCONNECTORS])
    vary_e = np.clip(1.0 + 0.1 * noise.smooth(seed, "limit-export", hours, 6.0, links), 0.6, 1.2)
    vary_i = np.clip(1.0 + 0.1 * noise.smooth(seed, "limit-import", hours, 6.0, links), 0.6, 1.2)
    outage = np.ones((len(hours), N_LINKS))
    first = int(days[0]) * INTERVALS_PER_DAY
    start_days = np.arange(int(days[0]) - 6, int(days[-1]) + 1, dtype=np.int64)
    hit = noise.uniform(seed, "link-outage", start_days[:, None], links[None, :]) < 0.003
    for d_idx, link in zip(*np.nonzero(hit), strict=True):
        draws = noise.uniform(seed, "link-outage-shape", start_days[d_idx], link, np.arange(2))
        start = int(start_days[d_idx]) * INTERVALS_PER_DAY + int(draws[0] * INTERVALS_PER_DAY)
        end = start + int((1 + 4 * draws[1]) * INTERVALS_PER_DAY)
        lo, hi = max(start, first) - first, min(end, first + len(hours)) - first
        if lo < hi:
            outage[lo:hi, link] = 0.2
    export = np.round(nominal_export * vary_e * outage, 5) + 0.0
    import_ = np.round(nominal_import * vary_i * outage, 5) + 0.0
    return _Limits(export, import_)


@dataclass(frozen=True)
class _Dispatch:
    units: IntArray
    output: FloatArray
    rrp: FloatArray
    unserved: FloatArray
    netinterchange: FloatArray
    mwflow: FloatArray
    meteredmwflow: FloatArray
    mwlosses: FloatArray
    marginalvalue: FloatArray


def _fuel_index(day: int, seed: int) -> dict[str, float]:
    """Fuel-cost multipliers of a day: gas and coal peak in the 2022 energy crisis and stay
    above their earlier level afterwards."""
    when = (EPOCH.date() + timedelta(days=day)).toordinal()
    crisis = float(np.exp(-0.5 * ((when - date(2022, 6, 15).toordinal()) / 75.0) ** 2))
    after = float(1.0 / (1.0 + np.exp(-(when - date(2022, 3, 1).toordinal()) / 60.0)))
    hours = np.array([day * 24.0])
    drift_gas = float(noise.smooth(seed, "fuel-gas", hours, 24.0 * 60)[0, 0])
    drift_coal = float(noise.smooth(seed, "fuel-coal", hours, 24.0 * 90)[0, 0])
    drift_water = float(noise.smooth(seed, "fuel-water", hours, 24.0 * 45)[0, 0])
    return {
        "": 1.0,
        "gas": max(0.5, 1.0 + 0.35 * after + 2.2 * crisis + 0.1 * drift_gas),
        "coal": max(0.5, 1.0 + 0.25 * after + 1.2 * crisis + 0.08 * drift_coal),
        "water": max(0.5, 1.0 + 0.2 * after + 1.2 * crisis + 0.15 * drift_water),
    }


def _offer_curves(
    fleet: Fleet, units: IntArray, day: int, cap: float, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Cleared share of availability at each grid price, per regime: (3, units, K), and the grid.

    Regime 1 (evening peak) prices water and gas 25% higher; regime 2 (a scarcity event) moves
    every band above 60 $/MWh to 85-100% of the cap, as when capacity is rebid to the cap.
    """
    grid = PRICE_GRID.copy()
    grid[-2:] = cap - 0.01, cap  # offers at the cap clear in the last (tiny) cell
    index = _fuel_index(day, seed)
    kind = fleet.band_kind[units]
    price = fleet.band_price[units]
    share = fleet.band_share[units]
    tas = (fleet.region[units] == TAS)[:, None]
    # Kinds: 0 fixed, 1 a fraction of the cap, 2 coal, 3 gas, 4 water (cheaper in Tasmania).
    scale = np.select(
        [kind == 2, kind == 3, kind == 4],
        [index["coal"], index["gas"], np.where(tas, 0.65, 1.0) * index["water"]],
        1.0,
    )
    price = np.where(kind == 1, price * cap, np.where(price > 0, price * scale, price))
    peak = np.where((kind == 3) | (kind == 4), 1.25, 1.0)
    price = np.clip(price, MARKET_PRICE_FLOOR, cap)
    regimes = np.stack(
        [
            price,
            np.minimum(price * peak, cap),
            # Scarcity: everything above 60 $/MWh is rebid to the cap or just below it.
            np.where(price > 60.0, np.where(kind % 2 == 0, cap, 0.9 * cap), price),
        ]
    )
    cleared = (regimes[..., None] <= grid[None, None, None, :]) * share[None, :, :, None]
    curves: FloatArray = cleared.sum(axis=2)
    curves[:, :, 0] = 0.0  # nothing clears below the floor; floor bands clear just above it
    return curves, grid


def _regimes(seed: int, days: IntArray, hours: FloatArray) -> IntArray:
    """Offer regime per interval and region: evening peak, and rare scarcity events."""
    clock = np.mod(hours - 2.5 / 60.0, 24.0)
    regime = np.where((clock >= 17.0) & (clock < 21.0), 1, 0)[:, None].repeat(5, axis=1)
    doy = weather.day_of_year(days.astype(np.float64) * 24.0 + 12.0)
    extreme_season = (doy < 60) | (doy > 335) | ((doy > 152) & (doy < 244))
    chance = np.where(extreme_season, 0.03, 0.008)
    regions = np.arange(5, dtype=np.int64)
    hit = noise.uniform(seed, "scarcity", days[:, None], regions[None, :]) < chance[:, None]
    first = int(days[0]) * INTERVALS_PER_DAY
    for d_idx, r in zip(*np.nonzero(hit), strict=True):
        draws = noise.uniform(seed, "scarcity-shape", days[d_idx], r, np.arange(2))
        start = int(days[d_idx]) * INTERVALS_PER_DAY + 198 + int(draws[0] * 36)  # 16:30-19:30
        length = 1 + int(8 * draws[1] ** 2)
        regime[start - first : start - first + length, r] = 2
    result: IntArray = regime.astype(np.int64)
    return result


def _lerp(values: FloatArray, k: IntArray, alpha: FloatArray) -> FloatArray:
    """Interpolate ``values`` (rows, K) at grid cell ``k`` and fraction ``alpha`` per row."""
    rows = np.arange(values.shape[0])
    result: FloatArray = values[rows, k] + alpha * (values[rows, k + 1] - values[rows, k])
    return result


def _solve(supply: FloatArray, target: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Where a non-decreasing supply curve (rows, K) meets ``target``: cell, fraction, shortfall.

    The shortfall is positive when even the cap does not meet the target, negative when the
    target is below what clears at the floor (both are settled by TOTALDEMAND).
    """
    below = (supply < target[:, None]).sum(axis=1)
    k = np.clip(below - 1, 0, _K - 2)
    rows = np.arange(supply.shape[0])
    s0 = supply[rows, k]
    s1 = supply[rows, k + 1]
    alpha = np.clip(np.where(s1 > s0, (target - s0) / np.where(s1 > s0, s1 - s0, 1.0), 1.0), 0, 1)
    achieved = s0 + alpha * (s1 - s0)
    return k, alpha, target - achieved


def _dispatch(
    fleet: Fleet,
    seed: int,
    first_day: date,
    n_days: int,
    hours: FloatArray,
    available: FloatArray,
    demand: FloatArray,
    limits: _Limits,
) -> _Dispatch:
    """Clear the market day by day (see the module docstring)."""
    units = np.array([i for i, t in enumerate(fleet.tech) if t not in STORAGE], dtype=np.int64)
    region = fleet.region[units]
    days = np.arange(day_number(first_day), day_number(first_day) + n_days, dtype=np.int64)
    regime_all = _regimes(seed, days, hours)
    n_t = len(hours)
    output = np.zeros((n_t, len(units)))
    rrp = np.zeros((n_t, 5))
    unserved = np.zeros((n_t, 5))
    netinterchange = np.zeros((n_t, 5))
    mwflow = np.zeros((n_t, N_LINKS))
    mwlosses = np.zeros((n_t, N_LINKS))
    marginal = np.zeros((n_t, N_LINKS))
    masks = [region == r for r in range(5)]
    for d in range(n_days):
        rows = slice(d * INTERVALS_PER_DAY, (d + 1) * INTERVALS_PER_DAY)
        day = int(days[d])
        cap = market_price_cap(first_day + timedelta(days=d))
        curves, grid = _offer_curves(fleet, units, day, cap, seed)
        avail = available[rows][:, units]
        regime = regime_all[rows]
        # Regional supply curves (288, 5, K) under each interval's regime.
        supply = np.zeros((INTERVALS_PER_DAY, 5, _K))
        for r in range(5):
            for g in range(_REGIMES):
                use = regime[:, r] == g
                if use.any():
                    supply[use, r, :] = avail[use][:, masks[r]] @ curves[g][masks[r]]
        export, import_ = limits.export[rows], limits.import_[rows]
        # Two passes: the losses of a lossless solution are added to the regions' demand (half
        # to each end of each interconnector) and the network is solved again, so every
        # region's balance below is exactly the one the network solution met.
        first = _network(supply, demand[rows], export, import_)
        losses = _losses(first.mwflow)
        share = _loss_share(losses)
        flows = _network(supply, demand[rows] + share, export, import_)
        mwflow[rows] = flows.mwflow
        mwlosses[rows] = losses
        net = share.copy()
        for j, ic in enumerate(INTERCONNECTORS):
            net[:, ic.from_region] += flows.mwflow[:, j]
            net[:, ic.to_region] -= flows.mwflow[:, j]
        netinterchange[rows] = net
        target = demand[rows] + net
        k_all = np.zeros((INTERVALS_PER_DAY, 5), dtype=np.int64)
        a_all = np.zeros((INTERVALS_PER_DAY, 5))
        for r in range(5):
            # Where the network solution's price also balances the region (the usual case when
            # no limit binds), keep it: a flat stretch of the region's own curve would otherwise
            # give an arbitrary lower price.
            k_c, a_c = flows.cell[r]
            fits = np.abs(_lerp(supply[:, r, :], k_c, a_c) - target[:, r]) < 1e-6
            k, alpha, short = _solve(supply[:, r, :], target[:, r])
            k = np.where(fits, k_c, k)
            alpha = np.where(fits, a_c, alpha)
            short = np.where(fits, 0.0, short)
            k_all[:, r], a_all[:, r] = k, alpha
            rrp[rows, r] = grid[k] + alpha * (grid[k + 1] - grid[k])
            unserved[rows, r] = short
        # Each unit clears the same share of its offer as its region's curve at the price.
        uk = k_all[:, region]
        ua = a_all[:, region]
        ug = regime[:, region]
        col = np.arange(len(units))[None, :]
        w0 = curves[ug, col, uk]
        w1 = curves[ug, col, uk + 1]
        output[rows] = avail * (w0 + ua * (w1 - w0))
        for j, ic in enumerate(INTERCONNECTORS):
            at_limit = (flows.mwflow[:, j] >= limits.export[rows][:, j] - 1e-6) | (
                flows.mwflow[:, j] <= -limits.import_[rows][:, j] + 1e-6
            )
            spread = rrp[rows, ic.to_region] - rrp[rows, ic.from_region]
            marginal[rows, j] = np.where(at_limit, spread, 0.0)
    metered = mwflow + np.clip(
        0.004 * np.abs(mwflow) * noise.smooth(seed, "metered", hours, 0.5, np.arange(N_LINKS)),
        -1.0,
        1.0,
    )
    return _Dispatch(
        units,
        output,
        np.round(rrp, 5) + 0.0,
        unserved,
        netinterchange,
        mwflow,
        metered,
        mwlosses,
        np.round(marginal, 5) + 0.0,
    )


@dataclass(frozen=True)
class _Flows:
    mwflow: FloatArray
    cell: dict[int, tuple[IntArray, FloatArray]]
    """Per region, the grid cell and fraction of the price the network solution gives it."""


def _network(
    supply: FloatArray, demand: FloatArray, export: FloatArray, import_: FloatArray
) -> _Flows:
    """Flows on the radial NEM that equalise prices until a limit binds (NSW at the root).

    Each child region's export to its parent, as a function of price, is its supply minus its
    demand clipped to the corridor's limits; a parent adds its children's exports to its own
    supply. The root's balance fixes its price, which fixes its children's exports, and so on
    down. Parallel interconnectors share a corridor's flow in proportion to their limits.
    """
    s = supply
    ids = [ic.id for ic in INTERCONNECTORS]
    nq = [ids.index("N-Q-MNSP1"), ids.index("NSW1-QLD1")]
    vs = [ids.index("V-S-MNSP1"), ids.index("V-SA")]
    tv = ids.index("T-V-MNSP1")
    vn = ids.index("VIC1-NSW1")
    # Child export bounds (towards the parent), from the links' limits and directions.
    q_lo, q_hi = -export[:, nq].sum(axis=1), import_[:, nq].sum(axis=1)
    sa_lo, sa_hi = -export[:, vs].sum(axis=1), import_[:, vs].sum(axis=1)
    t_lo, t_hi = -import_[:, tv], export[:, tv]
    v_lo, v_hi = -import_[:, vn], export[:, vn]

    def child(curve: FloatArray, d: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
        result: FloatArray = np.clip(curve - d[:, None], lo[:, None], hi[:, None])
        return result

    e_q = child(s[:, QLD], demand[:, QLD], q_lo, q_hi)
    e_sa = child(s[:, SA], demand[:, SA], sa_lo, sa_hi)
    e_t = child(s[:, TAS], demand[:, TAS], t_lo, t_hi)
    vic_eff = s[:, VIC] + e_sa + e_t
    e_v = child(vic_eff, demand[:, VIC], v_lo, v_hi)
    nsw_eff = s[:, NSW] + e_q + e_v
    k_n, a_n, _ = _solve(nsw_eff, demand[:, NSW])
    x_q = _lerp(e_q, k_n, a_n)
    x_v = _lerp(e_v, k_n, a_n)
    k_v, a_v, _ = _solve(vic_eff, demand[:, VIC] + x_v)
    x_sa = _lerp(e_sa, k_v, a_v)
    x_t = _lerp(e_t, k_v, a_v)

    flow = np.zeros((supply.shape[0], N_LINKS))
    _split(flow, nq, -x_q, export, import_)
    _split(flow, vs, -x_sa, export, import_)
    flow[:, tv] = x_t
    flow[:, vn] = x_v
    flow = np.round(flow, 5) + 0.0
    cell = {NSW: (k_n, a_n), QLD: (k_n, a_n), VIC: (k_v, a_v), SA: (k_v, a_v), TAS: (k_v, a_v)}
    return _Flows(flow, cell)


def _losses(flow: FloatArray) -> FloatArray:
    """Interconnector losses (MW): linear for the DC links, quadratic in the flow for all."""
    loss_l = np.array([ic.loss_linear for ic in INTERCONNECTORS])
    loss_q = np.array([ic.loss_quadratic for ic in INTERCONNECTORS])
    result: FloatArray = np.round(loss_l * np.abs(flow) + loss_q * flow**2, 5) + 0.0
    return result


def _loss_share(losses: FloatArray) -> FloatArray:
    """Each region's share of the losses: half of each of its interconnectors' losses."""
    share = np.zeros((losses.shape[0], 5))
    for j, ic in enumerate(INTERCONNECTORS):
        share[:, ic.from_region] += losses[:, j] / 2.0
        share[:, ic.to_region] += losses[:, j] / 2.0
    return share


def _split(
    flow: FloatArray, links: list[int], total: FloatArray, export: FloatArray, import_: FloatArray
) -> None:
    """Share a corridor's flow between parallel links in proportion to their limits."""
    e = export[:, links]
    i = import_[:, links]
    e_share = e / np.maximum(e.sum(axis=1, keepdims=True), 1e-9)
    i_share = i / np.maximum(i.sum(axis=1, keepdims=True), 1e-9)
    flow[:, links] = np.where(
        total[:, None] >= 0, total[:, None] * e_share, total[:, None] * i_share
    )


# ----------------------------------------------------------------------------------------------
# Interventions and FCAS


def _intervention(seed: int, days: IntArray, rrp: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Occasional intervention runs (about one day in 30, for 1-6 hours) and their prices."""
    n_t = rrp.shape[0]
    flag = np.zeros(n_t, dtype=bool)
    first = int(days[0]) * INTERVALS_PER_DAY
    hit = noise.uniform(seed, "intervention", days) < 1 / 30
    for d_idx in np.nonzero(hit)[0]:
        draws = noise.uniform(seed, "intervention-shape", days[d_idx], np.arange(2))
        start = int(days[d_idx]) * INTERVALS_PER_DAY + int(draws[0] * 240)
        length = 12 + int(draws[1] * 60)
        lo, hi = start - first, min(start - first + length, n_t)
        flag[lo:hi] = True
    factor = 0.85 + 0.12 * noise.uniform(seed, "intervention-price", np.arange(n_t) + first)
    intervened = np.where(rrp > 0, rrp * factor[:, None], rrp * (2.0 - factor[:, None]))
    result: FloatArray = np.where(flag[:, None], np.round(intervened, 5) + 0.0, np.nan)
    return flag, result


#: Typical FCAS prices ($/MWh): raise 6s, 60s, 5min, reg, lower 6s, 60s, 5min, reg, 1s, 1s.
_FCAS_LEVEL = np.array([0.3, 0.15, 0.1, 8.0, 0.1, 0.15, 0.05, 3.0, 0.1, 0.04])


def _fcas(seed: int, hours: FloatArray) -> FloatArray:
    """FCAS prices per region: NEM-wide log-normal levels; Tasmania often its own."""
    services = np.arange(len(_FCAS_LEVEL), dtype=np.int64)
    z = noise.smooth(seed, "fcas", hours, 1.0, services)
    nem = _FCAS_LEVEL[None, :] * np.exp(0.8 * z)
    tas = nem * np.exp(0.5 * noise.smooth(seed, "fcas-tas", hours, 4.0, services))
    prices = np.repeat(nem[:, None, :], 5, axis=1)
    prices[:, TAS, :] = tas
    result: FloatArray = np.round(prices, 2) + 0.0
    return result


__all__ = [
    "INTERCONNECTORS",
    "INTERVALS_PER_DAY",
    "MARKET_PRICE_CAP",
    "MARKET_PRICE_FLOOR",
    "ROOFTOP_ORDER",
    "Interconnector",
    "MarketDays",
    "day_number",
    "interval_number",
    "market_price_cap",
    "simulate",
]
