"""Render simulated market days as AEMO's tables (rows of DISPATCHIS, DISPATCHSCADA, TRADINGIS,
ROOFTOP_PV and the MMSDM archive), one :class:`~nemdash.demo.aemo_writer.Lines` per table.

Each function takes a :class:`~nemdash.demo.market.MarketDays` and a range of its intervals (or
half hours, for rooftop PV) and returns the rows grouped by interval, so a caller can cut one
file per interval (live feeds) or write a whole month at once (MMSDM). Values follow AEMO's
conventions (see NEM-FACTS.md):

* ``DISPATCHINTERVAL`` is the market day (04:05 .. 04:00) as ``yyyymmdd`` followed by the 3-digit
  interval of that day (001 = 04:05).
* An intervention interval has, for each region (and interconnector), a row with INTERVENTION = 1
  besides the INTERVENTION = 0 row; market prices are the INTERVENTION = 0 rows, and the SCADA
  is consistent with those.
* TRADING,PRICE: from the interval ending 2021-10-01 04:05 (five-minute settlement) one row per
  region every 5 minutes with RRP = the dispatch RRP to 2 decimals and PERIODID = 5-minute steps
  since midnight; before it, one row per half hour with RRP = the mean of the six dispatch RRPs
  and PERIODID = the half hour of the market day (04:30 = 1).
* UNIT_SCADA, ROOFTOP,ACTUAL: as published since late 2025 (with LASTCHANGED).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from nemdash.demo import aemo_writer as w
from nemdash.demo.fleet import Fleet
from nemdash.demo.market import (
    INTERCONNECTORS,
    INTERVALS_PER_DAY,
    ROOFTOP_ORDER,
    MarketDays,
    interval_number,
)
from nemdash.demo.noise import EPOCH, IntArray
from nemdash.tables import FIVE_MINUTE_SETTLEMENT_START, REGIONS

#: First interval (since the epoch) settled on 5-minute prices: the one ending 2021-10-01 04:05.
FIVE_MINUTE_SETTLEMENT = interval_number(FIVE_MINUTE_SETTLEMENT_START)

#: Seconds after the interval *start* at which AEMO stamps LASTCHANGED, per feed.
LASTCHANGED_SECONDS = {"dispatch": 15, "scada": 22, "trading": 4}
#: Rooftop PV rows are last changed this long after their half hour ends.
ROOFTOP_LASTCHANGED_SECONDS = 19 * 60 + 13

_FCAS_ORDER = (
    "raise6sec", "raise60sec", "raise5min", "raisereg", "lower6sec", "lower60sec", "lower5min",
    "lowerreg", "raise1sec", "lower1sec",
)  # fmt: skip


def dispatch_interval(interval: IntArray) -> IntArray:
    """AEMO's DISPATCHINTERVAL: market day ``yyyymmdd`` * 1000 + interval of the market day."""
    minutes = interval.astype(np.int64) * 5
    market_day = (minutes - 245) // 1440  # days since the epoch; 04:05 starts a market day
    period = (minutes - 240 - market_day * 1440) // 5
    dates = np.datetime64(EPOCH.date(), "D") + market_day.astype("timedelta64[D]")
    ymd = np.char.replace(np.datetime_as_string(dates, unit="D"), "-", "").astype(np.int64)
    result: IntArray = ymd * 1000 + period
    return result


def trading_period(interval: IntArray) -> IntArray:
    """TRADING PERIODID: 5-minute steps since midnight (00:00 is 288) from five-minute
    settlement, half hours of the market day (04:30 is 1) before it."""
    minutes = interval.astype(np.int64) * 5
    five = (minutes - 5) % 1440 // 5 + 1
    thirty = (minutes - 240 - 30) % 1440 // 30 + 1
    result: IntArray = np.where(interval >= FIVE_MINUTE_SETTLEMENT, five, thirty)
    return result


def _stamps(m: MarketDays, i0: int, i1: int, seconds: int) -> list[str]:
    return w.aemo_time(m.interval[i0:i1], seconds)


def _dispatch_rows(
    m: MarketDays, i0: int, i1: int, per_interval: int, intervention_first: bool
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Row structure of a DISPATCH table: (interval index, item, intervention, rows per interval).

    Intervention intervals get a second row per item, before (PRICE, REGIONSUM) or after
    (INTERCONNECTORRES) the ordinary one, as in AEMO's files.
    """
    flags = m.intervention[i0:i1]
    sizes = np.where(flags, 2 * per_interval, per_interval).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = int(sizes.sum())
    local = np.repeat(np.arange(i1 - i0), sizes)
    within = np.arange(total) - np.repeat(starts, sizes)
    doubled = flags[local]
    if intervention_first:
        item = np.where(doubled, within // 2, within)
        run = np.where(doubled, 1 - within % 2, 0)
    else:
        item = within % per_interval
        run = np.where(doubled, within // per_interval, 0)
    return local + i0, item, run.astype(np.int64), sizes


def scada(m: MarketDays, fleet: Fleet, i0: int, i1: int) -> w.Lines:
    """DISPATCH,UNIT_SCADA rows, DUIDs in alphabetical order within each interval."""
    n_units = len(fleet)
    n = i1 - i0
    local = np.repeat(np.arange(n), n_units)
    unit = np.tile(np.arange(n_units), n)
    values = m.scadavalue[i0:i1].reshape(-1)
    return w.render(
        w.UNIT_SCADA,
        {
            "settlementdate": w.per_row(_stamps(m, i0, i1, 0), local),
            "duid": w.per_row(list(fleet.duid), unit),
            "scadavalue": w.numbers(values, 5),
            "lastchanged": w.per_row(_stamps(m, i0, i1, LASTCHANGED_SECONDS["scada"] - 300), local),
        },
        np.full(n, n_units, dtype=np.int64),
    )


def dispatch_price(m: MarketDays, i0: int, i1: int, layout: w.Layout = w.DISPATCH_PRICE) -> w.Lines:
    """DISPATCH,PRICE rows (energy and FCAS prices) in the given column order."""
    t, region, run, sizes = _dispatch_rows(m, i0, i1, len(REGIONS), intervention_first=True)
    rrp = np.where(run == 1, m.rrp_intervention[t, region], m.rrp[t, region])
    rrp_text = w.numbers(rrp, 5)
    fcas = m.fcas_rrp[t, region]
    # CUMUL_PRE_AP_ENERGY_PRICE: the running sum of the day's prices (AEMO's runs over 7 days).
    day_sum = np.cumsum(m.rrp.reshape(-1, INTERVALS_PER_DAY, len(REGIONS)), axis=1).reshape(
        m.rrp.shape
    )
    stamp_index = t - i0
    values: dict[str, w.Field] = {
        "settlementdate": w.per_row(_stamps(m, i0, i1, 0), stamp_index),
        "runno": "1",
        "regionid": w.per_row(REGIONS, region),
        "dispatchinterval": w.per_row(
            [str(x) for x in dispatch_interval(m.interval[i0:i1])], stamp_index
        ),
        "intervention": w.numbers(run),
        "rrp": rrp_text,
        "eep": "0",
        "rop": rrp_text,
        "apcflag": "0",
        "marketsuspendedflag": "0",
        "lastchanged": w.per_row(
            _stamps(m, i0, i1, LASTCHANGED_SECONDS["dispatch"] - 300), stamp_index
        ),
        "price_status": "FIRM",
        "pre_ap_energy_price": rrp_text,
        "cumul_pre_ap_energy_price": w.numbers(day_sum[t, region], 5),
        "ocd_status": "NOT_OCD",
        "mii_status": "NOT_MII",
    }
    for s, service in enumerate(_FCAS_ORDER):
        price = w.numbers(fcas[:, s], 2)
        values[f"{service}rrp"] = price
        values[f"{service}rop"] = price
        values[f"{service}apcflag"] = "0"
    pre_ap = ("raise6", "raise60", "raise5min", "raisereg", "lower6", "lower60", "lower5min",
              "lowerreg", "raise1", "lower1")  # fmt: skip
    for s, name in enumerate(pre_ap):
        values[f"pre_ap_{name}_price"] = values[f"{_FCAS_ORDER[s]}rrp"]
        values[f"cumul_pre_ap_{name}_price"] = w.numbers(fcas[:, s] * 288.0, 2)
    return w.render(layout, values, sizes)


#: Constant FCAS figures of REGIONSUM per region (local dispatch of each contingency service
#: and regulation requirements), in the range AEMO's files show.
_REGION_FCAS_LOCAL = {
    "NSW1": (70, 78, 70, 58, 42, 24, 12, 30),
    "QLD1": (42, 67, 67, 230, 218, 228, 166, 73),
    "SA1": (66, 110, 83, 92, 90, 88, 11, 100),
    "TAS1": (0, 82, 82, 26, 126, 126, 50, 50),
    "VIC1": (53, 188, 135, 89, 277, 287, 86, 17),
}


def regionsum(m: MarketDays, i0: int, i1: int) -> w.Lines:
    """DISPATCH,REGIONSUM v9 rows: demand, availability, interchange, semi-scheduled, batteries."""
    t, region, run, sizes = _dispatch_rows(m, i0, i1, len(REGIONS), intervention_first=True)
    stamp_index = t - i0

    def col(array: np.ndarray, decimals: int = 5) -> w.Text:
        return w.numbers(array[t, region], decimals)

    values: dict[str, w.Field] = {c.lower(): "" for c in w.DISPATCH_REGIONSUM.columns}
    totaldemand = np.round(m.totaldemand, 2)
    semi_uigf = m.ss_solar_uigf + m.ss_wind_uigf
    semi_cleared = m.ss_solar_clearedmw + m.ss_wind_clearedmw
    has_battery = m.bdu_max_avail[t, region] > 0
    values.update(
        {
            "settlementdate": w.per_row(_stamps(m, i0, i1, 0), stamp_index),
            "runno": "1",
            "regionid": w.per_row(REGIONS, region),
            "dispatchinterval": w.per_row(
                [str(x) for x in dispatch_interval(m.interval[i0:i1])], stamp_index
            ),
            "intervention": w.numbers(run),
            "totaldemand": col(totaldemand, 2),
            "availablegeneration": col(m.availablegeneration),
            "availableload": col(m.availableload, 0),
            "demandforecast": col(m.demandforecast, 0),
            "dispatchablegeneration": col(m.dispatchablegeneration, 2),
            "dispatchableload": col(m.dispatchableload, 2),
            "netinterchange": col(m.netinterchange, 2),
            "excessgeneration": "0",
            "aggregatedispatcherror": "0",
            "lastchanged": w.per_row(
                _stamps(m, i0, i1, LASTCHANGED_SECONDS["dispatch"] - 300), stamp_index
            ),
            "initialsupply": col(totaldemand - m.demandforecast),
            "clearedsupply": col(totaldemand, 2),
            "totalintermittentgeneration": "0",
            "demand_and_nonschedgen": col(totaldemand, 2),
            "uigf": col(semi_uigf),
            "semischedule_clearedmw": col(semi_cleared),
            "semischedule_compliancemw": "0",
            "ss_solar_uigf": col(m.ss_solar_uigf),
            "ss_wind_uigf": col(m.ss_wind_uigf),
            "ss_solar_clearedmw": col(m.ss_solar_clearedmw),
            "ss_wind_clearedmw": col(m.ss_wind_clearedmw),
            "ss_solar_compliancemw": "0",
            "ss_wind_compliancemw": "0",
            "wdr_initialmw": "0",
            "wdr_available": "0",
            "wdr_dispatched": "0",
            "ss_solar_availability": col(m.ss_solar_uigf),
            "ss_wind_availability": col(m.ss_wind_uigf),
        }
    )
    # Regions without batteries leave the BDU columns empty, as AEMO does for Tasmania.
    for name, array in (
        ("bdu_energy_storage", m.bdu_energy_storage),
        ("bdu_min_avail", m.bdu_min_avail),
        ("bdu_max_avail", m.bdu_max_avail),
        ("bdu_clearedmw_gen", m.bdu_clearedmw_gen),
        ("bdu_clearedmw_load", m.bdu_clearedmw_load),
        ("bdu_initial_energy_storage", m.bdu_initial_energy_storage),
    ):
        values[name] = w.numbers(np.where(has_battery, array[t, region], np.nan), 5)
    local = np.array([_REGION_FCAS_LOCAL[r] for r in REGIONS], dtype=np.float64)
    services = ("lower5min", "lower60sec", "lower6sec", "raise5min", "raise60sec", "raise6sec")
    for s, service in enumerate(services):
        values[f"{service}localdispatch"] = w.numbers(local[region, s])
    values["lowerreglocaldispatch"] = w.numbers(local[region, 6])
    values["raisereglocaldispatch"] = w.numbers(local[region, 7])
    return w.render(w.DISPATCH_REGIONSUM, values, sizes)


def interconnectorres(m: MarketDays, i0: int, i1: int) -> w.Lines:
    """DISPATCH,INTERCONNECTORRES v3 rows: flows, losses and limits of the six interconnectors."""
    t, link, run, sizes = _dispatch_rows(m, i0, i1, len(INTERCONNECTORS), intervention_first=False)
    stamp_index = t - i0
    flow = m.mwflow[t, link]
    quadratic = np.array([ic.loss_quadratic for ic in INTERCONNECTORS])[link]
    linear = np.array([ic.loss_linear for ic in INTERCONNECTORS])[link]
    export = w.numbers(m.exportlimit[t, link], 5)
    import_ = w.numbers(m.importlimit[t, link], 5)
    return w.render(
        w.DISPATCH_INTERCONNECTORRES,
        {
            "settlementdate": w.per_row(_stamps(m, i0, i1, 0), stamp_index),
            "runno": "1",
            "interconnectorid": w.per_row([ic.id for ic in INTERCONNECTORS], link),
            "dispatchinterval": w.per_row(
                [str(x) for x in dispatch_interval(m.interval[i0:i1])], stamp_index
            ),
            "intervention": w.numbers(run),
            "meteredmwflow": w.numbers(m.meteredmwflow[t, link], 5),
            "mwflow": w.numbers(flow, 5),
            "mwlosses": w.numbers(m.mwlosses[t, link], 5),
            "marginalvalue": w.numbers(m.marginalvalue[t, link], 5),
            "violationdegree": "0",
            "lastchanged": w.per_row(
                _stamps(m, i0, i1, LASTCHANGED_SECONDS["dispatch"] - 300), stamp_index
            ),
            "exportlimit": export,
            "importlimit": import_,
            "marginalloss": w.numbers(1.0 + np.sign(flow) * linear + 2.0 * quadratic * flow, 5),
            "exportgenconid": w.per_row([ic.export_genconid for ic in INTERCONNECTORS], link),
            "importgenconid": w.per_row([ic.import_genconid for ic in INTERCONNECTORS], link),
            "fcasexportlimit": export,
            "fcasimportlimit": import_,
            "local_price_adjustment_export": "0",
            "locally_constrained_export": "0",
            "local_price_adjustment_import": "0",
            "locally_constrained_import": "0",
        },
        sizes,
    )


def case_solution(m: MarketDays, i0: int, i1: int) -> w.Lines:
    """DISPATCH,CASE_SOLUTION: one row per interval (INTERVENTION 1 when an intervention ran)."""
    n = i1 - i0
    objective = -(m.rrp[i0:i1] * m.totaldemand[i0:i1]).sum(axis=1) * 12.0
    values: dict[str, w.Field] = {c.lower(): "0" for c in w.DISPATCH_CASE_SOLUTION.columns}
    values.update(
        {
            "settlementdate": pa.array(_stamps(m, i0, i1, 0), pa.string()),
            "runno": "1",
            "intervention": w.numbers(m.intervention[i0:i1].astype(np.int64)),
            "casesubtype": "",
            "solutionstatus": "1",
            "spdversion": "",
            "totalobjective": w.numbers(objective, 4),
            "total5minviolation": "",
            "totalregviolation": "",
            "total6secviolation": "",
            "total60secviolation": "",
            "lastchanged": pa.array(
                _stamps(m, i0, i1, LASTCHANGED_SECONDS["dispatch"] - 300), pa.string()
            ),
            "switchrunbeststatus_int": "",
        }
    )
    return w.render(w.DISPATCH_CASE_SOLUTION, values, np.ones(n, dtype=np.int64))


def _trading_rows(m: MarketDays, i0: int, i1: int) -> tuple[IntArray, IntArray]:
    """Which intervals carry trading rows (all from 5-minute settlement, half hours before),
    and how many 5-minute intervals each one averages."""
    interval = m.interval[i0:i1]
    on_half_hour = (interval % 6) == 0
    five = interval >= FIVE_MINUTE_SETTLEMENT
    carries = five | on_half_hour
    span = np.where(five, 1, 6)
    return carries, span


def _trading_mean(values: np.ndarray, t: IntArray, span: IntArray) -> np.ndarray:
    """Mean of ``values`` over the ``span`` intervals ending at each row's interval."""
    total = np.zeros((len(t), *values.shape[1:]))
    for back in range(6):
        use = back < span
        rows = np.where(use, t - back, t)
        total += np.where(use[:, None], values[rows], 0.0)
    result: np.ndarray = total / span[:, None]
    return result


def trading(m: MarketDays, i0: int, i1: int) -> tuple[w.Lines, w.Lines]:
    """TRADING,PRICE and TRADING,INTERCONNECTORRES rows (none in 5-minute intervals that end no
    trading interval before five-minute settlement)."""
    carries, span_all = _trading_rows(m, i0, i1)
    trading_t = np.nonzero(carries)[0] + i0
    span = span_all[trading_t - i0]
    periods = trading_period(m.interval[trading_t])
    rrp = _trading_mean(m.rrp, trading_t, span)
    fcas = _trading_mean(m.fcas_rrp.reshape(len(m.interval), -1), trading_t, span).reshape(
        len(trading_t), len(REGIONS), -1
    )
    flows = {
        name: _trading_mean(array, trading_t, span)
        for name, array in (("metered", m.meteredmwflow), ("mw", m.mwflow), ("loss", m.mwlosses))
    }
    n_intervals = i1 - i0
    stamps = _stamps(m, i0, i1, 0)
    changed = _stamps(m, i0, i1, LASTCHANGED_SECONDS["trading"] - 300)

    n_r = len(REGIONS)
    row_t = np.repeat(np.arange(len(trading_t)), n_r)
    region = np.tile(np.arange(n_r), len(trading_t))
    # Five-minute trading prices are the dispatch price to 2 decimals; half-hourly ones a mean.
    rrp_rounded = np.where(span[:, None] == 1, np.round(rrp, 2), np.round(rrp, 5))
    rrp_text = w.numbers(rrp_rounded[row_t, region])
    price_values: dict[str, w.Field] = {
        "settlementdate": w.per_row(stamps, trading_t[row_t] - i0),
        "runno": "1",
        "regionid": w.per_row(REGIONS, region),
        "periodid": w.numbers(periods[row_t]),
        "rrp": rrp_text,
        "eep": "0",
        "invalidflag": "0",
        "lastchanged": w.per_row(changed, trading_t[row_t] - i0),
        "rop": rrp_text,
        "price_status": "FIRM",
    }
    for s, service in enumerate(_FCAS_ORDER):
        price = w.numbers(fcas[row_t, region, s], 2)
        price_values[f"{service}rrp"] = price
        price_values[f"{service}rop"] = price
    sizes = np.zeros(n_intervals, dtype=np.int64)
    sizes[trading_t - i0] = n_r
    price_lines = w.render(w.TRADING_PRICE, price_values, sizes)

    n_l = len(INTERCONNECTORS)
    row_l = np.repeat(np.arange(len(trading_t)), n_l)
    link = np.tile(np.arange(n_l), len(trading_t))
    ic_values: dict[str, w.Field] = {
        "settlementdate": w.per_row(stamps, trading_t[row_l] - i0),
        "runno": "1",
        "interconnectorid": w.per_row([ic.id for ic in INTERCONNECTORS], link),
        "periodid": w.numbers(periods[row_l]),
        "meteredmwflow": w.numbers(flows["metered"][row_l, link], 5),
        "mwflow": w.numbers(flows["mw"][row_l, link], 5),
        "mwlosses": w.numbers(flows["loss"][row_l, link], 5),
        "lastchanged": w.per_row(changed, trading_t[row_l] - i0),
    }
    ic_sizes = np.zeros(n_intervals, dtype=np.int64)
    ic_sizes[trading_t - i0] = n_l
    return price_lines, w.render(w.TRADING_INTERCONNECTORRES, ic_values, ic_sizes)


def rooftop(m: MarketDays, h0: int, h1: int) -> w.Lines:
    """ROOFTOP,ACTUAL rows (TYPE MEASUREMENT) for half hours ``h0 .. h1 - 1`` of ``m``."""
    n = h1 - h0
    n_areas = len(ROOFTOP_ORDER)
    local = np.repeat(np.arange(n), n_areas)
    area = np.tile(np.arange(n_areas), n)
    half_hours = m.rooftop_interval[h0:h1]
    return w.render(
        w.ROOFTOP_ACTUAL,
        {
            "interval_datetime": w.per_row(w.aemo_time(half_hours), local),
            "regionid": w.per_row(ROOFTOP_ORDER, area),
            "power": w.numbers(m.rooftop_power[h0:h1].reshape(-1), 3),
            "qi": "1",
            "type": "MEASUREMENT",
            "lastchanged": w.per_row(w.aemo_time(half_hours, ROOFTOP_LASTCHANGED_SECONDS), local),
        },
        np.full(n, n_areas, dtype=np.int64),
    )
