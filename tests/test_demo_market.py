"""The synthetic NEM's market model: physics that balance, limits that hold, numbers that look real.

These call :func:`nemdash.demo.market.simulate` directly (no files): a spring week and a summer
week of a small fleet, and a month of the full-size fleet for the statistics an analyst would
look at first.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from nemdash.demo import fleet as demo_fleet
from nemdash.demo import market, weather
from nemdash.demo.fleet import Tech
from nemdash.demo.market import INTERCONNECTORS, MarketDays, simulate
from nemdash.tables import REGIONS

NSW, QLD, SA, TAS, VIC = range(5)


@pytest.fixture(scope="module")
def small_fleet() -> demo_fleet.Fleet:
    return demo_fleet.make_fleet(60, 5)


@pytest.fixture(scope="module")
def spring(small_fleet: demo_fleet.Fleet) -> MarketDays:
    return simulate(small_fleet, date(2024, 10, 7), 7)


@pytest.fixture(scope="module")
def big_month() -> tuple[demo_fleet.Fleet, MarketDays]:
    fleet = demo_fleet.make_fleet(450, 1)
    return fleet, simulate(fleet, date(2024, 10, 1), 31)


def _hour(m: MarketDays) -> np.ndarray:
    """Hour of the day at the middle of each interval (NEM time)."""
    return ((m.interval - 1) % 288) * 5 / 60 + 2.5 / 60


def _net_generation(fleet: demo_fleet.Fleet, m: MarketDays) -> np.ndarray:
    """SCADA summed per region, pumps (load DUIDs) counted negative."""
    sign = np.array([-1.0 if t is Tech.PUMP else 1.0 for t in fleet.tech])
    out = np.zeros((len(m.interval), 5))
    for r in range(5):
        members = fleet.region == r
        out[:, r] = (m.scadavalue[:, members] * sign[members]).sum(axis=1)
    return out


def test_generation_equals_demand_plus_net_export_everywhere(
    small_fleet: demo_fleet.Fleet, spring: MarketDays
) -> None:
    generation = _net_generation(small_fleet, spring)
    assert np.abs(generation - spring.totaldemand - spring.netinterchange).max() < 1e-3
    # Net export is the interconnector flows plus half of each one's losses.
    export = np.zeros_like(spring.netinterchange)
    for j, ic in enumerate(INTERCONNECTORS):
        export[:, ic.from_region] += spring.mwflow[:, j] + spring.mwlosses[:, j] / 2
        export[:, ic.to_region] += -spring.mwflow[:, j] + spring.mwlosses[:, j] / 2
    assert np.abs(export - spring.netinterchange).max() < 1e-6
    identity = spring.dispatchablegeneration - spring.dispatchableload - spring.netinterchange
    assert np.abs(identity - spring.totaldemand).max() < 1e-3


def test_flows_stay_within_limits_and_prices_within_floor_and_cap(spring: MarketDays) -> None:
    assert (spring.mwflow <= spring.exportlimit + 1e-6).all()
    assert (spring.mwflow >= spring.importlimit - 1e-6).all()
    assert (spring.mwlosses >= 0).all()
    assert spring.rrp.min() >= market.MARKET_PRICE_FLOOR
    assert spring.rrp.max() <= market.market_price_cap(date(2024, 10, 7))
    assert market.market_price_cap(date(2025, 6, 30)) == 17500
    assert market.market_price_cap(date(2025, 7, 1)) == 20300
    assert market.market_price_cap(date(2023, 1, 1)) == 15500
    assert market.market_price_cap(date(2024, 1, 1)) == 16600


def test_units_never_exceed_what_is_available(
    small_fleet: demo_fleet.Fleet, spring: MarketDays
) -> None:
    generators = np.array([t not in demo_fleet.STORAGE for t in small_fleet.tech])
    scada, available = spring.scadavalue[:, generators], spring.available[:, generators]
    assert (scada >= -1e-9).all()
    assert (scada <= available + 1e-6).all()
    assert (available <= small_fleet.capacity[generators] + 1e-6).all()


def test_storage_stays_within_its_energy_and_charges_cheap(
    small_fleet: demo_fleet.Fleet, spring: MarketDays
) -> None:
    energy = np.array([p.energy_mwh for p in small_fleet.storage])
    soc = spring.state_of_charge
    assert (soc >= 0).all()
    assert (soc <= energy + 1e-9).all()
    # Every day ends half full, so no state crosses midnight.
    assert np.allclose(soc[287::288], energy / 2)
    for plant in small_fleet.storage:
        if plant.load_unit is not None:
            continue
        output = spring.scadavalue[:, plant.gen_units[0]]
        assert output.min() >= -plant.charge_mw - 1e-9
        assert output.max() <= plant.power_mw + 1e-9
        price = spring.rrp[:, plant.region]
        assert price[output < -1].mean() < price[output > 1].mean(), plant.name


def test_no_sun_no_solar(small_fleet: demo_fleet.Fleet, spring: MarketDays) -> None:
    hour = _hour(spring)
    night = (hour > 21) | (hour < 4.5)
    solar = small_fleet.units_of(Tech.SOLAR)
    assert (spring.scadavalue[night][:, solar] == 0).all()
    assert (spring.available[night][:, solar] == 0).all()
    assert spring.scadavalue[~night][:, solar].max() > 0
    rooftop_hour = ((spring.rooftop_interval - 1) % 288) * 5 / 60
    dark = (rooftop_hour > 21) | (rooftop_hour < 4.5)
    assert (spring.rooftop_power[dark] == 0).all()


def test_rooftop_regions_are_exact_sums_of_sub_regions(spring: MarketDays) -> None:
    order = market.ROOFTOP_ORDER
    col = {name: spring.rooftop_power[:, order.index(name)] for name in order}
    assert np.array_equal(col["QLD1"], np.round(col["QLDC"] + col["QLDN"] + col["QLDS"], 3))
    assert np.array_equal(col["TAS1"], np.round(col["TASN"] + col["TASS"], 3))
    assert col["NSW1"].max() > 1000


def test_a_day_is_the_same_whatever_range_it_is_simulated_in(
    small_fleet: demo_fleet.Fleet, spring: MarketDays
) -> None:
    alone = simulate(small_fleet, date(2024, 10, 9), 1)
    within = slice(2 * 288, 3 * 288)
    assert np.array_equal(alone.scadavalue, spring.scadavalue[within])
    assert np.array_equal(alone.rrp, spring.rrp[within])
    assert np.array_equal(alone.mwflow, spring.mwflow[within])
    assert np.array_equal(alone.rooftop_power, spring.rooftop_power[2 * 48 : 3 * 48])


def test_another_seed_is_another_market(small_fleet: demo_fleet.Fleet, spring: MarketDays) -> None:
    other = simulate(demo_fleet.make_fleet(60, 6), date(2024, 10, 7), 1)
    assert not np.array_equal(other.rrp, spring.rrp[:288])


def test_wind_fronts_reach_sa_and_vic_together_and_queensland_later() -> None:
    fleet = demo_fleet.make_fleet(450, 1)
    wind = fleet.units_of(Tech.WIND)
    start = market.day_number(date(2023, 1, 1)) * 288
    hours = (start + 1 + np.arange(365 * 288)) / 12.0
    output = weather.wind_output(1, hours, wind, fleet.region[wind]) * fleet.capacity[wind]
    regional = np.stack([output[:, fleet.region[wind] == r].sum(axis=1) for r in range(5)])
    corr = np.corrcoef(regional)
    assert corr[SA, VIC] > 0.5
    assert corr[SA, VIC] > corr[SA, NSW] > corr[SA, QLD]
    # Still air and storms: the NEM's wind fleet spans most of its range over a year.
    total = output.sum(axis=1) / fleet.capacity[wind].sum()
    assert total.min() < 0.08
    assert total.max() > 0.7


def test_coal_units_trip_and_come_back() -> None:
    fleet = demo_fleet.make_fleet(450, 1)
    m = simulate(fleet, date(2023, 5, 1), 30)
    coal = fleet.units_of(Tech.COAL_BLACK, Tech.COAL_BROWN)
    share = m.available[:, coal] / fleet.capacity[coal]
    tripped = [u for u in range(len(coal)) if share[:, u].min() < 0.05]
    assert tripped, "a month of ~45 coal units has outages"
    returned = [u for u in tripped if share[np.argmin(share[:, u]) :, u].max() > 0.8]
    assert returned, "and units come back from them"


def test_interventions_are_occasional() -> None:
    days = np.arange(market.day_number(date(2022, 1, 1)), market.day_number(date(2024, 1, 1)))
    flag, rrp = market._intervention(1, days, np.full((len(days) * 288, 5), 50.0))
    per_day = flag.reshape(len(days), 288).any(axis=1)
    assert 5 < per_day.sum() < 60  # about one day in 30
    assert np.isnan(rrp[~flag]).all()
    assert not np.isnan(rrp[flag]).any()


def test_a_spring_month_looks_like_the_nem(big_month: tuple[demo_fleet.Fleet, MarketDays]) -> None:
    fleet, m = big_month
    nem = m.totaldemand.sum(axis=1)
    assert 10_000 < nem.min() < 16_000
    assert 26_000 < nem.max() < 35_000
    assert 17_000 < nem.mean() < 24_000
    hour = _hour(m)
    midday = (hour > 11) & (hour < 14)
    evening = (hour > 17) & (hour < 20)
    for r in (SA, VIC):
        assert (m.rrp[midday, r] < 0).mean() > 0.4, REGIONS[r]
    assert (m.rrp[evening].mean(axis=0) > m.rrp[midday].mean(axis=0) + 50).all()
    assert 10 < m.rrp[:, SA].mean() < 150
    wind = fleet.units_of(Tech.WIND)
    solar = fleet.units_of(Tech.SOLAR)
    wind_cf = m.scadavalue[:, wind].sum(axis=1).mean() / fleet.capacity[wind].sum()
    solar_cf = m.available[:, solar].sum(axis=1).mean() / fleet.capacity[solar].sum()
    assert 0.2 < wind_cf < 0.45
    assert 0.15 < solar_cf < 0.35
    # Brown coal runs flat out far more than open-cycle gas.
    brown = fleet.units_of(Tech.COAL_BROWN)
    ocgt = fleet.units_of(Tech.GAS_OCGT)
    assert m.scadavalue[:, brown].mean() / fleet.capacity[brown].mean() > 0.5
    assert m.scadavalue[:, ocgt].mean() / fleet.capacity[ocgt].mean() < 0.1
