"""Weather of the synthetic NEM: sun, cloud, wind and temperature, as pure functions of time.

* **Sun**: the solar elevation from latitude, longitude, declination and the equation of time,
  at the middle of each period-ending interval, in NEM time (UTC+10, whose meridian is 150 E).
  Below the horizon every solar output is exactly zero.
* **Cloud**: a cloudiness index in 0..1 per area (the five regions and the rooftop PV
  sub-regions): day-long weather systems shared between neighbours, hour-scale cumulus, and a
  season (a wet summer in the north, cloudy winters in the south).
* **Wind**: fronts that cross the NEM from west to east over a few days (SA first, Queensland
  last), a regional component, and a unit component, turned into output by a power curve.
* **Temperature**: a season, a daily cycle peaking mid-afternoon and multi-day heat or cold spells.

Times are hours since :data:`nemdash.demo.noise.EPOCH` (NEM wall clock) at the interval *end*.
"""

from __future__ import annotations

import numpy as np

from nemdash.demo import noise
from nemdash.demo.noise import FloatArray, IntArray

#: Areas with their own cloud: the five regions, then the rooftop PV sub-regions.
AREAS: tuple[str, ...] = (
    "NSW1", "QLD1", "SA1", "TAS1", "VIC1", "QLDC", "QLDN", "QLDS", "TASN", "TASS",
)  # fmt: skip
AREA_COORDS: dict[str, tuple[float, float]] = {
    "NSW1": (-33.2, 150.0),
    "QLD1": (-26.0, 151.5),
    "SA1": (-34.6, 138.7),
    "TAS1": (-42.2, 147.0),
    "VIC1": (-37.6, 144.9),
    "QLDC": (-23.4, 150.5),
    "QLDN": (-19.3, 146.8),
    "QLDS": (-27.5, 152.8),
    "TASN": (-41.4, 147.1),
    "TASS": (-42.9, 147.3),
}
#: West-to-east lag (hours) of the fronts that drive wind and temperature, per region.
FRONT_LAG_HOURS: tuple[float, ...] = (14.0, 24.0, 0.0, 10.0, 6.0)  # NSW1 QLD1 SA1 TAS1 VIC1

_HALF_INTERVAL_HOURS = 2.5 / 60.0


def day_of_year(hours: FloatArray) -> FloatArray:
    """Fractional day of the year (1 = 1 January), close enough for seasons and the sun."""
    result: FloatArray = np.mod(hours / 24.0, 365.2425) + 1.0
    return result


def season(hours: FloatArray, peak_day: float) -> FloatArray:
    """A yearly cosine: +1 on ``peak_day`` of the year, -1 half a year later."""
    result: FloatArray = np.cos(2.0 * np.pi * (day_of_year(hours) - peak_day) / 365.2425)
    return result


def sun_height(hours_end: FloatArray, lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Sine of the solar elevation at the middle of each interval, shape (times, places)."""
    hours = hours_end - _HALF_INTERVAL_HOURS
    doy = day_of_year(hours)
    declination = np.radians(23.44) * np.sin(2.0 * np.pi * (284.0 + doy) / 365.0)
    b = 2.0 * np.pi * (doy - 81.0) / 364.0
    equation_of_time = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)  # minutes
    clock = np.mod(hours, 24.0)
    solar_time = clock[:, None] + (4.0 * (lon[None, :] - 150.0) + equation_of_time[:, None]) / 60
    hour_angle = np.radians(15.0 * (solar_time - 12.0))
    phi = np.radians(lat)[None, :]
    dec = declination[:, None]
    result: FloatArray = np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(hour_angle)
    return result


def clear_sky(height: FloatArray, exponent: float | FloatArray) -> FloatArray:
    """Clear-sky output shape in 0..1 from the sun's height; exactly 0 below the horizon."""
    up = height > 0.0
    safe = np.where(up, height, 1.0)
    result: FloatArray = np.where(up, safe**exponent * np.exp(-0.06 / safe), 0.0)
    return result


def cloudiness(seed: int, hours: FloatArray, areas: IntArray) -> FloatArray:
    """Cloud index in 0..1 for each area (index into :data:`AREAS`), shape (times, areas)."""
    lat = np.array([AREA_COORDS[AREAS[a]][0] for a in areas])
    # Wet season in the tropics (peak late January), cloudy winters in the south (peak July).
    tropical = np.clip((-lat - 28.0) / -8.0, 0.0, 1.0)
    southern = np.clip((-lat - 33.0) / 6.0, 0.0, 1.0)
    seasonal = (
        0.9 * tropical[None, :] * season(hours, 25.0)[:, None]
        + 0.7 * southern[None, :] * season(hours, 195.0)[:, None]
    )
    shared = noise.smooth(seed, "cloud-shared", hours, 30.0)  # (T, 1): continent-wide systems
    systems = noise.smooth(seed, "cloud-system", hours, 20.0, areas)
    cumulus = noise.smooth(seed, "cloud-cumulus", hours, 2.5, areas)
    z = -0.9 + seasonal + 1.1 * (0.45 * shared + 0.89 * systems) + 0.6 * cumulus
    result: FloatArray = 1.0 / (1.0 + np.exp(-1.6 * z))
    return result


def solar_output(
    seed: int,
    hours: FloatArray,
    lat: FloatArray,
    lon: FloatArray,
    tracking: np.ndarray,
    area_cloud: FloatArray,
    unit_ids: IntArray,
) -> FloatArray:
    """Utility solar output as a fraction of maximum capacity, shape (times, units).

    Single-axis trackers have a broad plateau (exponent 0.45 on the sun's height), fixed panels
    a rounder day (0.9); inverters clip at 90% of the maximum capacity. ``area_cloud`` is the
    cloud of each unit's region (times, units); each farm adds its own passing clouds.
    """
    height = sun_height(hours, lat, lon)
    exponent = np.where(tracking, 0.45, 0.9)[None, :]
    shape = np.minimum(0.9, 1.05 * clear_sky(height, exponent))
    local = noise.smooth(seed, "cloud-farm", hours, 1.0, unit_ids)
    cloud = np.clip(area_cloud + 0.12 * local, 0.0, 1.0)
    result: FloatArray = shape * (1.0 - 0.78 * cloud)
    return result


def rooftop_output(hours: FloatArray, areas: IntArray, cloud: FloatArray) -> FloatArray:
    """Rooftop PV output per area as a fraction of installed capacity, shape (times, areas)."""
    lat = np.array([AREA_COORDS[AREAS[a]][0] for a in areas])
    lon = np.array([AREA_COORDS[AREAS[a]][1] for a in areas])
    height = sun_height(hours, lat, lon)
    result: FloatArray = 0.56 * clear_sky(height, 1.1) * (1.0 - 0.7 * cloud)
    return result


def wind_output(
    seed: int, hours: FloatArray, unit_ids: IntArray, unit_region: IntArray
) -> FloatArray:
    """Wind farm output as a fraction of maximum capacity, shape (times, units).

    Fronts: one NEM-wide process with knots 36 hours apart, seen by each region after its
    :data:`FRONT_LAG_HOURS`; so SA1 and VIC1 move together and QLD1 a day later. Winter and spring
    are windier in the south. The power curve cuts in at 3 m/s, is rated from 12.5 m/s and cuts
    out above 25 m/s.
    """
    regions = np.unique(unit_region)
    region_z = np.zeros((len(hours), 5))
    for r in regions:
        front = noise.smooth(seed, "wind-front", hours - FRONT_LAG_HOURS[int(r)], 36.0)[:, 0]
        local = noise.smooth(seed, "wind-region", hours, 16.0, [int(r)])[:, 0]
        gust = noise.smooth(seed, "wind-gust", hours, 3.0, [int(r)])[:, 0]
        region_z[:, r] = (0.85 * front + 0.45 * local + 0.25 * gust) / 0.99
    z_unit = 0.88 * region_z[:, unit_region] + 0.47 * noise.smooth(
        seed, "wind-unit", hours, 2.0, unit_ids
    )
    southern = np.isin(unit_region, (2, 3, 4)).astype(np.float64)
    seasonal = 1.0 + 0.1 * southern[None, :] * season(hours, 230.0)[:, None]
    mean_speed = 7.6 + 1.4 * noise.uniform(seed, "wind-site", unit_ids)
    speed = mean_speed[None, :] * seasonal * np.exp(0.45 * z_unit - 0.1)
    curve = np.clip((speed - 3.0) / (12.5 - 3.0), 0.0, 1.0) ** 2.0
    result: FloatArray = np.where(speed > 25.0, 0.0, curve) * 0.97
    return result


#: Per region (NSW1, QLD1, SA1, TAS1, VIC1): mean °C, yearly amplitude, daily amplitude, spells.
TEMPERATURE: tuple[tuple[float, float, float, float], ...] = (
    (18.0, 5.5, 5.0, 3.0),
    (22.0, 4.5, 4.5, 2.5),
    (17.5, 6.0, 6.0, 3.5),
    (12.5, 4.0, 4.5, 2.5),
    (15.5, 5.5, 5.5, 3.5),
)


def temperature(seed: int, hours: FloatArray) -> FloatArray:
    """Air temperature per region (°C), shape (times, 5); hottest mid-January and at 15:00."""
    result = np.zeros((len(hours), 5))
    daily = np.cos(2.0 * np.pi * (np.mod(hours, 24.0) - 15.0) / 24.0)
    yearly = season(hours, 20.0)
    for r, (mean, yearly_amp, daily_amp, spell) in enumerate(TEMPERATURE):
        front = noise.smooth(seed, "temp-front", hours - FRONT_LAG_HOURS[r], 48.0)[:, 0]
        local = noise.smooth(seed, "temp-region", hours, 30.0, [r])[:, 0]
        anomaly = spell * (0.7 * front + 0.71 * local)
        # Spells are larger in summer (heatwaves) than in winter.
        result[:, r] = mean + yearly_amp * yearly + daily_amp * daily + anomaly * (1 + 0.3 * yearly)
    return result
