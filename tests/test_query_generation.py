"""Generation queries: the mix, per-fuel statistics, utilisation, time of day, renewable share.

Checked against values computed by hand from the inputs of the synthetic market in
``query_factory`` (real lake, real rollups, real DuckDB).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nemdash.errors import QueryError
from nemdash.query.connection import Database
from nemdash.query.generation import (
    CAPACITY_BASIS,
    capacity_utilisation,
    generation_mix,
    generation_stats,
    generation_time_of_day,
    renewable_share,
)
from nemdash.tables import REGIONS
from query_factory import (
    DAY1,
    FIVE,
    HALF_HOUR,
    HOURS,
    UNLISTED,
    Inputs,
    aware,
    build_store,
    market,
)

DAY = timedelta(days=1)
DAY2 = DAY1 + DAY
FUEL_OF = {
    "BW01": "coal_black",
    "BW02": "coal_black",
    "WINDY1": "wind",
    "TUMUT3": "pumped_hydro",
    "GAS1": "gas_ocgt",
    "BIO1": "biomass",
    "HPR1": "battery",
    "SUNNY1": "solar_utility",
    "GORDON1": "hydro",
    "LOYYB1": "coal_brown",
    UNLISTED: "unknown",
}
REGION_OF = {
    "BW01": "NSW1",
    "BW02": "NSW1",
    "WINDY1": "NSW1",
    "TUMUT3": "NSW1",
    "GAS1": "QLD1",
    "BIO1": "QLD1",
    "HPR1": "SA1",
    "SUNNY1": "SA1",
    "GORDON1": "TAS1",
    "LOYYB1": "VIC1",
    UNLISTED: "unknown",
}


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("generation")) / "data", inputs)
    yield database
    database.close()


def fleet(inputs: Inputs, fuel: str, t: datetime, region: str | None = None) -> float:
    """A fleet's MW at one interval (DG_* and other regions left out)."""
    return sum(
        mw
        for (duid, when), mw in inputs.scada.items()
        if when == t and FUEL_OF.get(duid) == fuel and (region is None or REGION_OF[duid] == region)
    )


def rooftop(inputs: Inputs, half_hour: datetime, region: str | None = None) -> float:
    """Rooftop MW of the five regions (MEASUREMENT, else SATELLITE), never the sub-regions."""
    total = 0.0
    for r in REGIONS if region is None else (region,):
        measured = inputs.rooftop.get((r, half_hour, "MEASUREMENT"))
        satellite = inputs.rooftop.get((r, half_hour, "SATELLITE"))
        total += measured if measured is not None else (satellite or 0.0)
    return total


def six(end: datetime) -> list[datetime]:
    return [end - HALF_HOUR + (i + 1) * FIVE for i in range(6)]


def series(table_rows: list[dict[str, object]], bucket: datetime) -> dict[str, dict[str, object]]:
    return {str(r["series"]): r for r in table_rows if r["bucket_end"] == bucket}


# -- the mix --------------------------------------------------------------------------------------


def test_nem_mix_by_fuel_with_rooftop_and_battery_charging(db: Database, inputs: Inputs) -> None:
    table = generation_mix(db, start=aware(DAY1), end=aware(DAY2), resolution="30m")
    bucket = DAY1 + timedelta(hours=12, minutes=30)
    got = series(table.to_pylist(), bucket)
    times = six(bucket)
    assert got["coal_black"]["mw"] == pytest.approx(
        statistics.fmean(fleet(inputs, "coal_black", t) for t in times)
    )
    assert got["coal_black"]["energy_mwh"] == pytest.approx(
        sum(fleet(inputs, "coal_black", t) for t in times) * HOURS
    )
    battery = [inputs.scada["HPR1", t] for t in times]
    assert got["battery"]["mw"] == pytest.approx(statistics.fmean(max(b, 0) for b in battery))
    assert got["battery_charging"]["mw"] == pytest.approx(
        statistics.fmean(min(b, 0) for b in battery)
    )
    assert got["battery_charging"]["mw"] < 0
    pumped = [inputs.scada["TUMUT3", t] for t in times]
    assert got["pumped_hydro_pumping"]["mw"] == pytest.approx(
        statistics.fmean(min(p, 0) for p in pumped)
    )
    assert got["unknown"]["mw"] == 5.0  # the unit the registry does not know
    assert "other" not in got  # AEMO's DG_* pseudo-unit is not a physical unit
    assert "imports" not in got
    assert "exports" not in got
    # The NEM price is load-weighted over the regions: sum(rrp x demand) / sum(demand).
    pairs = [
        (inputs.rrp[r, t], inputs.demand[r, t])
        for r in REGIONS
        for t in times
        if (r, t) in inputs.rrp
    ]
    assert got["coal_black"]["rrp"] == pytest.approx(
        sum(p * d for p, d in pairs) / sum(d for _, d in pairs)
    )
    assert {r["completeness"] for r in got.values()} == {1.0}


def test_rooftop_sub_regions_are_never_added_to_the_regions(db: Database, inputs: Inputs) -> None:
    table = generation_mix(db, start=aware(DAY1), end=aware(DAY2), resolution="30m")
    solar = {r["bucket_end"]: r for r in table.to_pylist() if r["series"] == "rooftop_solar"}
    noon = DAY1 + timedelta(hours=12)
    # NSW1 MEASUREMENT + QLD1 MEASUREMENT + SA1 SATELLITE; QLDC/QLDN/QLDS would add QLD1 again.
    assert solar[noon]["mw"] == pytest.approx(rooftop(inputs, noon))
    everything = sum(v for (_, t, kind), v in inputs.rooftop.items() if t == noon)
    assert solar[noon]["mw"] < everything
    assert solar[noon]["energy_mwh"] == pytest.approx(rooftop(inputs, noon) * 0.5)


def test_region_mix_has_imports_and_exports_from_its_point_of_view(
    db: Database, inputs: Inputs
) -> None:
    table = generation_mix(db, region="NSW1", start=aware(DAY1), end=aware(DAY2), max_points=48)
    bucket = DAY1 + timedelta(hours=3)
    got = series(table.to_pylist(), bucket)
    times = six(bucket)
    # VIC1-NSW1 flows VIC -> NSW (an import); NSW1-QLD1 flows NSW -> QLD (an export).
    vic_nsw = statistics.fmean(inputs.flows["VIC1-NSW1", t][0] for t in times)
    assert got["imports"]["mw"] == pytest.approx(vic_nsw)
    assert got["exports"]["mw"] == pytest.approx(-80.0)
    assert got["exports"]["energy_mwh"] == pytest.approx(-80.0 * 0.5)
    assert set(got) == {
        "coal_black",
        "wind",
        "pumped_hydro",
        "pumped_hydro_pumping",
        "rooftop_solar",
        "imports",
        "exports",
    }
    assert got["rooftop_solar"]["mw"] == pytest.approx(rooftop(inputs, bucket, "NSW1"))
    nsw = [inputs.rrp["NSW1", t] for t in times]
    assert got["wind"]["rrp"] == pytest.approx(statistics.fmean(nsw))


def test_five_minute_mix_averages_to_the_thirty_minute_mix(db: Database) -> None:
    start, end = DAY1 + timedelta(hours=11), DAY1 + timedelta(hours=13)
    fine = generation_mix(db, region="SA1", start=aware(start), end=aware(end), resolution="5m")
    coarse = generation_mix(db, region="SA1", start=aware(start), end=aware(end), resolution="30m")
    assert fine.schema.metadata[b"nemdash.resolution"] == b"5m"
    for row in coarse.to_pylist():
        bucket, name = row["bucket_end"], row["series"]
        parts = [
            r
            for r in fine.to_pylist()
            if r["series"] == name and bucket - HALF_HOUR < r["bucket_end"] <= bucket
        ]
        assert len(parts) == 6, (bucket, name)
        assert row["mw"] == pytest.approx(statistics.fmean(p["mw"] for p in parts))
        assert row["energy_mwh"] == pytest.approx(sum(p["energy_mwh"] for p in parts))
        assert row["rrp"] == pytest.approx(statistics.fmean(p["rrp"] for p in parts))


def test_five_minute_mix_is_each_intervals_fleet_with_its_half_hours_rooftop(
    db: Database, inputs: Inputs
) -> None:
    end = DAY1 + timedelta(hours=12, minutes=30)
    table = generation_mix(db, start=aware(end - HALF_HOUR), end=aware(end), resolution="5m")
    for t in six(end):
        got = series(table.to_pylist(), t)
        assert got["coal_black"]["mw"] == pytest.approx(fleet(inputs, "coal_black", t))
        assert got["coal_black"]["energy_mwh"] == pytest.approx(
            fleet(inputs, "coal_black", t) * HOURS
        )
        # Rooftop PV is half-hourly: each interval carries the half hour's value.
        assert got["rooftop_solar"]["mw"] == pytest.approx(rooftop(inputs, end))
        assert got["battery_charging"]["mw"] == pytest.approx(min(inputs.scada["HPR1", t], 0))


def test_nem_is_the_sum_of_the_regions(db: Database) -> None:
    span = {"start": aware(DAY1), "end": aware(DAY2 + DAY), "resolution": "day"}
    nem = generation_mix(db, **span)  # type: ignore[arg-type]
    regions = [generation_mix(db, region=r, **span) for r in REGIONS]  # type: ignore[arg-type]
    for name in ("coal_black", "rooftop_solar", "battery_charging"):
        total = sum(r["mw"] for t in regions for r in t.to_pylist() if r["series"] == name)
        assert sum(r["mw"] for r in nem.to_pylist() if r["series"] == name) == pytest.approx(total)


# -- statistics -----------------------------------------------------------------------------------


def test_generation_statistics_per_fuel(db: Database, inputs: Inputs) -> None:
    table = generation_stats(db, start=aware(DAY1), end=aware(DAY2))
    rows = {r["fuel"]: r for r in table.to_pylist()}
    times = [t for (d, t) in inputs.scada if d == "BW01" and DAY1 < t <= DAY2]
    coal = sum(fleet(inputs, "coal_black", t) for t in times) * HOURS
    assert rows["coal_black"]["energy_gwh"] == pytest.approx(coal / 1000)
    assert rows["coal_black"]["average_mw"] == pytest.approx(coal / 24)
    revenue = sum(
        fleet(inputs, "coal_black", t) * HOURS * inputs.trading["NSW1", t]
        for t in times
        if ("NSW1", t) in inputs.trading
    )
    assert rows["coal_black"]["volume_weighted_rrp"] == pytest.approx(revenue / coal)
    battery = [inputs.scada["HPR1", t] for t in times]
    assert rows["battery"]["generated_gwh"] == pytest.approx(
        sum(max(b, 0) for b in battery) * HOURS / 1000
    )
    assert rows["battery"]["consumed_gwh"] == pytest.approx(
        sum(min(b, 0) for b in battery) * HOURS / 1000
    )
    assert rows["battery"]["consumption_weighted_rrp"] == pytest.approx(
        sum(min(b, 0) * inputs.trading["SA1", t] for b, t in zip(battery, times, strict=True))
        / sum(min(b, 0) for b in battery)
    )
    assert sum(r["share_pct"] for r in rows.values()) == pytest.approx(100.0)
    generated = {f: r["generated_gwh"] for f, r in rows.items()}
    assert rows["wind"]["share_pct"] == pytest.approx(
        100 * generated["wind"] / sum(generated.values())
    )
    assert next(iter(rows)) == "rooftop_solar"  # largest first
    assert rows["gas_ocgt"]["completeness"] == 1.0


def test_region_statistics_leave_other_regions_out(db: Database) -> None:
    table = generation_stats(db, region="TAS1", start=aware(DAY1), end=aware(DAY2))
    rows = {r["fuel"]: r for r in table.to_pylist()}
    assert set(rows) == {"hydro"}
    assert rows["hydro"]["average_mw"] == pytest.approx(120.0)
    assert rows["hydro"]["volume_weighted_rrp"] == pytest.approx(20.0)
    assert rows["hydro"]["share_pct"] == pytest.approx(100.0)


def test_capacity_utilisation_names_its_capacity(db: Database, inputs: Inputs) -> None:
    table = capacity_utilisation(db, start=aware(DAY1), end=aware(DAY2))
    rows = {r["fuel"]: r for r in table.to_pylist()}
    times = [t for (d, t) in inputs.scada if d == "BW01" and DAY1 < t <= DAY2]
    coal = sum(fleet(inputs, "coal_black", t) for t in times) * HOURS
    assert rows["coal_black"]["capacity_mwh"] == pytest.approx(1320 * 24)
    assert rows["coal_black"]["utilisation_pct"] == pytest.approx(100 * coal / (1320 * 24))
    assert rows["coal_black"]["capacity_mw"] == pytest.approx(1320.0)
    assert rows["coal_black"]["capacity_basis"] == CAPACITY_BASIS
    # The battery's generating part only: charging is not "utilisation".
    battery = sum(max(inputs.scada["HPR1", t], 0) for t in times) * HOURS
    assert rows["battery"]["utilisation_pct"] == pytest.approx(100 * battery / (150 * 24))
    assert rows["coal_brown"]["utilisation_pct"] is None  # no registered capacity
    assert rows["rooftop_solar"]["utilisation_pct"] is None
    assert rows["coal_brown"]["registered_capacity_mw"] is None
    assert rows["gas_ocgt"]["registered_capacity_mw"] == 300.0


# -- time of day and renewables -------------------------------------------------------------------


def test_generation_time_of_day(db: Database, inputs: Inputs) -> None:
    table = generation_time_of_day(
        db, region="NSW1", start=aware(DAY1), end=aware(DAY1 + 2 * DAY), fuels=["wind"]
    )
    rows = {r["minute_of_day"]: r for r in table.to_pylist()}
    assert set(table.column("series").to_pylist()) == {"wind"}
    assert len(rows) == 48
    noon = [DAY1 + d * DAY + timedelta(hours=12) for d in range(2)]
    wind = [inputs.scada["WINDY1", t] for end in noon for t in six(end)]
    assert rows[720]["mw"] == pytest.approx(statistics.fmean(wind))
    assert rows[1440]["time_of_day"] == "24:00"


def test_renewable_share_counts_pumped_hydro_and_rooftop_but_not_batteries(
    db: Database, inputs: Inputs
) -> None:
    times = [t for (d, t) in inputs.scada if d == "BW01" and DAY1 < t <= DAY2]
    halves = [DAY1 + (h + 1) * HALF_HOUR for h in range(48)]

    def generated(fuel: str, region: str | None = None) -> float:
        return (
            sum(
                max(inputs.scada[d, t], 0)
                for d, f in FUEL_OF.items()
                if f == fuel and (region is None or REGION_OF[d] == region)
                for t in times
            )
            * HOURS
        )

    roof = sum(rooftop(inputs, h) for h in halves) * 0.5
    renewable = (
        sum(generated(f) for f in ("wind", "hydro", "pumped_hydro", "biomass", "solar_utility"))
        + roof
    )
    total = renewable + sum(
        generated(f) for f in ("coal_black", "coal_brown", "gas_ocgt", "unknown")
    )
    table = renewable_share(db, start=aware(DAY1), end=aware(DAY2), resolution="day")
    row = table.to_pylist()[0]
    assert row["renewable_mwh"] == pytest.approx(renewable)
    assert row["total_mwh"] == pytest.approx(total)
    assert row["share_pct"] == pytest.approx(100 * renewable / total)
    # South Australia: a battery (neither), a solar farm and rooftop PV: all renewable.
    sa = renewable_share(db, region="SA1", start=aware(DAY1), end=aware(DAY2), resolution="day")
    assert sa.column("share_pct").to_pylist() == [pytest.approx(100.0)]


def test_a_bad_region_or_fuel_is_refused(db: Database) -> None:
    with pytest.raises(QueryError, match="unknown region 'TASN'"):
        generation_mix(db, region="TASN", start=aware(DAY1), end=aware(DAY2))
    with pytest.raises(QueryError, match="unknown fuel 'coal'"):
        generation_time_of_day(db, start=aware(DAY1), end=aware(DAY2), fuels=["coal"])
