"""The synthetic fleet and its registration list: a real-looking NEM mix, invented names."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from nemdash.demo.fleet import STORAGE, Fleet, Tech, make_fleet, minimum_units
from nemdash.demo.registry import HEADERS, SHEET, registry_workbook
from nemdash.errors import ConfigError
from nemdash.tables import REGIONS


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return make_fleet(450, 1)


def _mw(fleet: Fleet, region: str, *techs: Tech) -> float:
    units = fleet.units_of(*techs)
    return float(fleet.capacity[units][fleet.region[units] == REGIONS.index(region)].sum())


@pytest.mark.parametrize("units", [minimum_units(), 60, 450, 500, 1200])
def test_the_fleet_has_exactly_the_units_asked_for_with_unique_duids(units: int) -> None:
    fleet = make_fleet(units, 2)
    assert len(fleet) == len(set(fleet.duid)) == units
    assert all(1 <= len(duid) <= 10 and duid.isascii() for duid in fleet.duid)
    assert list(fleet.duid) == sorted(fleet.duid)


def test_the_mix_follows_the_real_nem(fleet: Fleet) -> None:
    assert _mw(fleet, "NSW1", Tech.COAL_BLACK) > 7000
    assert _mw(fleet, "QLD1", Tech.COAL_BLACK) > 7000
    assert _mw(fleet, "VIC1", Tech.COAL_BROWN) > 4000
    for region in ("SA1", "TAS1", "VIC1"):
        assert _mw(fleet, region, Tech.COAL_BLACK) == 0
    for region in ("NSW1", "QLD1", "SA1", "TAS1"):
        assert _mw(fleet, region, Tech.COAL_BROWN) == 0
    assert _mw(fleet, "TAS1", Tech.HYDRO) > 2000
    for region in ("NSW1", "QLD1", "SA1", "VIC1"):
        assert _mw(fleet, region, Tech.WIND) > 0
        assert _mw(fleet, region, Tech.SOLAR) > 0
        assert _mw(fleet, region, Tech.BATTERY) > 0
    for region in REGIONS:
        assert _mw(fleet, region, Tech.GAS_CCGT, Tech.GAS_OCGT, Tech.GAS_OTHER) > 0
    counts = Counter(fleet.tech)
    assert counts[Tech.WIND] > 80
    assert counts[Tech.SOLAR] > 80
    assert counts[Tech.BATTERY] > 30
    assert counts[Tech.PUMP] == 2
    assert counts[Tech.PUMPED_HYDRO] >= 2
    assert counts[Tech.BIOMASS] > 0
    assert 60_000 < fleet.capacity.sum() < 90_000


def test_stations_group_duids_and_storage_has_energy(fleet: Fleet) -> None:
    stations = Counter(fleet.station)
    assert max(stations.values()) >= 4  # e.g. a coal station of four units
    coal = fleet.units_of(Tech.COAL_BLACK)
    by_station: dict[str, list[str]] = {}
    for u in coal:
        by_station.setdefault(fleet.station[u], []).append(fleet.duid[u])
    for duids in by_station.values():
        assert len({d.rstrip("0123456789") for d in duids}) == 1  # XYZ1..XYZ4
    for plant in fleet.storage:
        assert plant.energy_mwh > 0
        assert 0 < plant.efficiency < 1
        if plant.load_unit is None:
            assert fleet.tech[plant.gen_units[0]] is Tech.BATTERY
            assert 0.9 <= plant.energy_mwh / plant.power_mw <= 4.1
        else:
            assert fleet.tech[plant.load_unit] is Tech.PUMP
            assert fleet.station[plant.load_unit] == fleet.station[plant.gen_units[0]]
    storage_units = {u for p in fleet.storage for u in (*p.gen_units, p.load_unit) if u is not None}
    assert storage_units == set(fleet.units_of(*STORAGE).tolist())


def test_the_same_seed_gives_the_same_fleet_and_another_seed_another(fleet: Fleet) -> None:
    again = make_fleet(450, 1)
    assert again.duid == fleet.duid
    assert np.array_equal(again.capacity, fleet.capacity)
    other = make_fleet(450, 2)
    assert other.duid != fleet.duid


def test_too_small_or_too_large_a_fleet_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least"):
        make_fleet(minimum_units() - 1)
    with pytest.raises(ConfigError, match="more than"):
        make_fleet(6000)


def test_the_registry_has_aemo_layout_and_wording(fleet: Fleet, shared_fixtures: Path) -> None:
    real = openpyxl.load_workbook(
        shared_fixtures / "registry" / "NEM-Registration-and-Exemption-List.xlsx", read_only=True
    )
    real_rows = list(real[SHEET].iter_rows(values_only=True))
    real.close()
    data = registry_workbook(fleet, date(2024, 6, 30))
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["Overview", SHEET]
    rows = list(book[SHEET].iter_rows(values_only=True))
    book.close()
    assert rows[0] == real_rows[0] == HEADERS
    assert len(rows) == len(fleet) + 1
    real_wording = {(r[3], r[6], r[7], r[8], r[9]) for r in real_rows[1:]}
    for row in rows[1:]:
        if row[3] != "Load":
            assert (row[3], row[6], row[7], row[8], row[9]) in real_wording, row
    assert {row[12] for row in rows[1:]} == set(fleet.duid)
    assert any(isinstance(row[13], str) for row in rows[1:])  # numbers as text, as AEMO's


def test_the_registry_is_byte_identical_for_the_same_fleet(fleet: Fleet) -> None:
    assert registry_workbook(fleet, date(2024, 6, 30)) == registry_workbook(
        fleet, date(2024, 6, 30)
    )


def test_the_project_registry_reader_maps_every_unit_to_its_fuel(fleet: Fleet) -> None:
    sources = pytest.importorskip("nemdash.nemweb.registry_sources")
    units = sources.read_registration_list(registry_workbook(fleet, date(2024, 6, 30)))
    by_duid = {unit.duid: unit for unit in units}
    assert set(by_duid) == set(fleet.duid)
    for u, duid in enumerate(fleet.duid):
        expected = "pumped_hydro" if fleet.tech[u] is Tech.PUMP else fleet.tech[u].value
        assert by_duid[duid].fuel == expected, duid
        assert by_duid[duid].region == REGIONS[int(fleet.region[u])]
        if fleet.tech[u] is Tech.BATTERY:
            assert by_duid[duid].dispatch_type == "bidirectional"
            assert by_duid[duid].storage_mwh == pytest.approx(fleet.storage_mwh[u], abs=0.01)
        if fleet.tech[u] is Tech.PUMP:
            assert by_duid[duid].dispatch_type == "load"
    assert units[0].source_date == date(2024, 6, 30)
