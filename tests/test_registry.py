"""The DUID registry: AEMO's real workbook, Open Electricity's stations.json, name rules, storage.

Facts come from ../shared/fixtures/README.md (registry/): the workbook's sheet "PU and Scheduled
Loads" has 573 data rows, 9 with DUID ``-`` and ADPBA1 twice, hence 563 units; stations.json has
676 NEM facilities. Downloads go to a real HTTP server on 127.0.0.1 (http.server in a thread).
"""

from __future__ import annotations

import csv
import http.server
import io
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nemdash.config import Settings
from nemdash.errors import RegistryError
from nemdash.nemweb.registry_sources import (
    FUELS,
    SOURCE_AEMO,
    SOURCE_NAME,
    SOURCE_OE,
    RegistryUnit,
    aemo_fuel,
    classify_by_name,
    classify_unknown,
    fetch_bytes,
    read_registration_list,
    read_stations_json,
)
from nemdash.store.lake import Lake
from nemdash.store.registry import REGISTRY_SCHEMA, REGISTRY_TABLE, build_registry, update_registry

WORKBOOK = "registry/NEM-Registration-and-Exemption-List.xlsx"
STATIONS = "registry/stations.json"
SCADA_2025 = (
    "nemweb/Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
)
FORBIDDEN_PAGE = (
    b"<html><head><title>403 - Forbidden: Access is denied.</title></head><body>"
    b"<h2>403 - Forbidden: Access is denied.</h2></body></html>"
)


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def workbook_bytes(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / WORKBOOK).read_bytes()


@pytest.fixture(scope="module")
def stations_bytes(shared_fixtures: Path) -> bytes:
    return (shared_fixtures / STATIONS).read_bytes()


@pytest.fixture(scope="module")
def aemo_units(workbook_bytes: bytes) -> list[RegistryUnit]:
    return read_registration_list(workbook_bytes)


@pytest.fixture(scope="module")
def oe_units(stations_bytes: bytes) -> list[RegistryUnit]:
    return read_stations_json(stations_bytes, source_date=date(2025, 6, 1))


@pytest.fixture(scope="module")
def scada_duids(shared_fixtures: Path) -> list[str]:
    """The DUIDs of the 2025-12-27 00:05 UNIT_SCADA file, read with zipfile + csv."""
    with zipfile.ZipFile(shared_fixtures / SCADA_2025) as archive:
        (member,) = archive.namelist()
        text = archive.read(member).decode("ascii")
    rows = list(csv.reader(io.StringIO(text)))
    header = next(r for r in rows if r[:3] == ["I", "DISPATCH", "UNIT_SCADA"])
    column = header.index("DUID")
    return [r[column] for r in rows if r[0] == "D"]


@pytest.fixture(scope="module")
def registry(
    aemo_units: list[RegistryUnit], oe_units: list[RegistryUnit], scada_duids: list[str]
) -> dict[str, dict[str, object]]:
    table = build_registry(aemo_units, oe_units, scada_duids)
    return {str(row["duid"]): row for row in table.to_pylist()}


def by_duid(units: list[RegistryUnit]) -> dict[str, RegistryUnit]:
    return {u.duid: u for u in units}


# --------------------------------------------------------------------------------------------
# AEMO's workbook


def test_workbook_gives_563_units_from_573_rows(aemo_units: list[RegistryUnit]) -> None:
    assert len(aemo_units) == 563
    assert len({u.duid for u in aemo_units}) == 563
    assert "-" not in {u.duid for u in aemo_units}
    assert all(u.source == SOURCE_AEMO and not u.inferred for u in aemo_units)


def test_workbook_units_by_region_and_dispatch_type(aemo_units: list[RegistryUnit]) -> None:
    # Rows NSW1 150, QLD1 145, VIC1 142, SA1 101, TAS1 35, less the 9 "-" rows (QLD1 5, VIC1 3,
    # TAS1 1) and the second ADPBA1 row (SA1); all "-" rows are generating units.
    assert Counter(u.region for u in aemo_units) == {
        "NSW1": 150,
        "QLD1": 140,
        "VIC1": 139,
        "SA1": 100,
        "TAS1": 34,
    }
    assert Counter(u.dispatch_type for u in aemo_units) == {
        "generator": 507 - 9,
        "bidirectional": 61 - 1,
        "load": 5,
    }


def test_known_units_have_their_identity_fuel_and_capacity(
    aemo_units: list[RegistryUnit],
) -> None:
    units = by_duid(aemo_units)
    hpr1 = units["HPR1"]
    assert (hpr1.station_name, hpr1.region, hpr1.fuel) == (
        "Hornsdale Power Reserve",
        "SA1",
        "battery",
    )
    assert hpr1.registered_capacity_mw == 150
    assert hpr1.dispatch_type == "bidirectional"
    assert hpr1.storage_mwh == 194
    bw01 = units["BW01"]
    assert (bw01.station_name, bw01.region, bw01.fuel, bw01.registered_capacity_mw) == (
        "Bayswater Power Station",
        "NSW1",
        "coal_black",
        660,
    )
    assert bw01.aemo_fuel == "Fossil / Black Coal"
    assert bw01.technology == "Steam Sub-Critical"
    assert units["KPP_1"].registered_capacity_mw == 744
    assert units["LYA1"].fuel == "coal_brown"


def test_capacities_stored_as_text_are_numbers(aemo_units: list[RegistryUnit]) -> None:
    er01 = by_duid(aemo_units)["ER01"]
    assert er01.registered_capacity_mw == 720.0  # the cell holds the text '720'
    assert er01.max_capacity_mw == 750.0
    assert all(isinstance(u.registered_capacity_mw, float) for u in aemo_units)


def test_eraring_is_one_station_of_four_units(aemo_units: list[RegistryUnit]) -> None:
    eraring = [u.duid for u in aemo_units if u.station_name == "Eraring Power Station"]
    assert {"ER01", "ER02", "ER03", "ER04"} <= set(eraring)


def test_duids_with_stray_whitespace_are_trimmed(aemo_units: list[RegistryUnit]) -> None:
    # The workbook holds 'ERB01 ' and 'HASTING1\n'.
    units = by_duid(aemo_units)
    assert {"ERB01", "HASTING1", "HUNTER1"} <= units.keys()
    assert all(u.duid == u.duid.strip() for u in aemo_units)


def test_adpba1_listed_twice_is_merged(aemo_units: list[RegistryUnit]) -> None:
    adpba1 = [u for u in aemo_units if u.duid == "ADPBA1"]
    assert len(adpba1) == 1
    unit = adpba1[0]
    assert unit.registered_capacity_mw == 7.76  # the same in both rows: not summed
    assert unit.registered_consumption_mw == 7  # only the second row has these
    assert unit.storage_mwh == 6
    assert unit.fuel == "battery"


def test_workbook_is_dated_by_its_modified_date(aemo_units: list[RegistryUnit]) -> None:
    # docProps says modified 2026-03-24 21:54:51 UTC, which is 2026-03-25 in NEM time.
    assert {u.source_date for u in aemo_units} == {date(2026, 3, 25)}


def test_explicit_source_date_wins(workbook_bytes: bytes) -> None:
    units = read_registration_list(workbook_bytes, source_date=date(2026, 4, 1))
    assert {u.source_date for u in units} == {date(2026, 4, 1)}


def test_every_fuel_is_in_the_taxonomy(aemo_units: list[RegistryUnit]) -> None:
    fuels = Counter(u.fuel for u in aemo_units)
    assert set(fuels) - {None} <= set(FUELS)
    # Only Basslink's two units and the three pumps without AEMO fuel text have no fuel.
    assert sorted(u.duid for u in aemo_units if u.fuel is None) == [
        "BLNKTAS",
        "BLNKVIC",
        "PUMP1",
        "PUMP2",
        "SHPUMP",
    ]
    assert fuels["battery"] == 62
    assert fuels["coal_black"] + fuels["coal_brown"] == 44


@pytest.mark.parametrize(
    ("texts", "dispatch_type", "region", "expected"),
    [
        ("Fossil|Black Coal|Steam Sub-Critical", None, None, ("coal_black", True)),
        ("Fossil|Brown Coal|Steam Sub-Critical", None, None, ("coal_brown", True)),
        ("Fossil|Natural Gas|Open Cycle Gas turbines (OCGT)", None, None, ("gas_ocgt", True)),
        ("Fossil|Natrual Gas/ Diesel|OCGT", None, None, ("gas_ocgt", True)),
        ("Fossil|Natural Gas|Combined Cycle Gas Turbine (CCGT)", None, None, ("gas_ccgt", True)),
        ("Fossil|Coal Seam Methane|Spark Ignition Reciprocating Engine", None, None,
         ("gas_other", True)),
        ("Fossil|Diesel|Compression Reciprocating Engine", None, None, ("distillate", True)),
        ("Fossil|Kerosene|Open Cycle Gas turbines (OCGT)", None, None, ("distillate", True)),
        ("Battery Storage|Grid|Battery and Inverter", None, None, ("battery", True)),
        ("Hydro|Water|Pump Storage", None, None, ("pumped_hydro", True)),
        ("Hydro|Water|Hydro - Gravity", "load", None, ("pumped_hydro", True)),
        ("Hydro|Water|Run of River", None, None, ("hydro", True)),
        ("Renewable/ Biomass / Waste|Sewerage / Waste Water|Pump Storage", None, None,
         ("biomass", True)),
        ("Solar|solar|Photovoltalic Tracking Flat Panel", None, None, ("solar_utility", True)),
        ("Wind|Wind|Wind - Onshore", None, None, ("wind", True)),
        ("Coal||", None, "VIC1", ("coal_brown", False)),
        ("Coal||", None, "NSW1", ("coal_black", False)),
        ("Fossil||Combustion", None, None, ("gas_other", False)),
        ("-|-|-", None, None, (None, False)),
        ("||", None, None, (None, False)),
    ],
)  # fmt: skip
def test_aemo_fuel_texts_map_to_the_taxonomy(
    texts: str, dispatch_type: str | None, region: str | None, expected: tuple[str | None, bool]
) -> None:
    primary, descriptor, technology = (t or None for t in texts.split("|"))
    got = aemo_fuel(primary, descriptor, technology, dispatch_type=dispatch_type, region=region)
    assert got == expected


def _workbook(sheet: str, header: list[str], rows: list[list[object]]) -> bytes:
    """A small xlsx written by openpyxl (a real workbook, not a mock)."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


AEMO_HEADER = [
    "Participant",
    "Station Name",
    "Region",
    "Dispatch Type",
    "Classification",
    "Fuel Source - Primary",
    "Fuel Source - Descriptor",
    "Technology Type - Primary",
    "Technology Type - Descriptor",
    "DUID",
    "Reg Cap generation (MW)",
    "Max Cap generation (MW)",
]


def test_dash_and_text_capacities_in_a_small_workbook() -> None:
    data = _workbook(
        "PU and Scheduled Loads ",  # AEMO pads some sheet names
        AEMO_HEADER,
        [
            ["P", "Alpha Wind Farm", "SA1", "Generating Unit", "Semi-Scheduled", "Wind", "Wind",
             "Renewable", "Wind - Onshore", "ALPHWF1", "-", " 1,200.5 "],
            ["P", "Beta", "NSW1", "Load", "Scheduled", "-", "-", "-", "-", "BETAL1", None, "n/a"],
            ["P", "Gamma", "QLD1", "Generating Unit", "Scheduled", "Fossil", "Black Coal",
             "Combustion", "Steam Sub-Critical", "-", 100, 100],
        ],
    )  # fmt: skip
    units = by_duid(read_registration_list(data, source_date=date(2026, 1, 1)))
    assert set(units) == {"ALPHWF1", "BETAL1"}
    assert units["ALPHWF1"].registered_capacity_mw is None  # "-" is NULL, not zero
    assert units["ALPHWF1"].max_capacity_mw == 1200.5
    assert units["BETAL1"].max_capacity_mw is None  # unreadable text is NULL too
    assert units["BETAL1"].fuel is None
    assert units["BETAL1"].dispatch_type == "load"


def test_workbook_without_the_sheet_names_what_it_found() -> None:
    data = _workbook("Registered Participants", AEMO_HEADER, [])
    with pytest.raises(RegistryError, match="PU and Scheduled Loads") as info:
        read_registration_list(data)
    assert "Registered Participants" in str(info.value)


def test_workbook_without_columns_names_the_missing_and_the_found() -> None:
    header = [h for h in AEMO_HEADER if h not in ("Region", "Max Cap generation (MW)")]
    data = _workbook("PU and Scheduled Loads", header, [])
    with pytest.raises(RegistryError) as info:
        read_registration_list(data)
    message = str(info.value)
    assert "'region'" in message
    assert "'max cap generation (mw)'" in message
    assert "Station Name" in message  # what was found


def test_html_page_is_not_a_workbook() -> None:
    with pytest.raises(RegistryError, match=r"not an xlsx workbook.*HTML page.*--xlsx PATH"):
        read_registration_list(FORBIDDEN_PAGE)


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("PUBLIC_DISPATCHSCADA.CSV", "C,NEMP.WORLD\r\n")
    with pytest.raises(RegistryError, match="cannot be opened as an xlsx"):
        read_registration_list(out.getvalue())


# --------------------------------------------------------------------------------------------
# Open Electricity's stations.json


def test_stations_json_keeps_nem_units_only(oe_units: list[RegistryUnit]) -> None:
    # 676 NEM facilities: 12 are interconnectors (not units) and ADPBA1G is listed twice.
    assert len(oe_units) == 676 - 12 - 1
    assert {u.region for u in oe_units} == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}
    assert all(u.source == SOURCE_OE and u.source_date == date(2025, 6, 1) for u in oe_units)
    assert "V-SA" not in by_duid(oe_units)


def test_stations_json_facts(oe_units: list[RegistryUnit]) -> None:
    units = by_duid(oe_units)
    assert (units["BW01"].fuel, units["BW01"].region, units["BW01"].registered_capacity_mw) == (
        "coal_black",
        "NSW1",
        660,
    )
    assert (units["LYA1"].fuel, units["LYA1"].region, units["LYA1"].registered_capacity_mw) == (
        "coal_brown",
        "VIC1",
        560,
    )
    assert (units["HDWF2"].fuel, units["HDWF2"].region, units["HDWF2"].registered_capacity_mw) == (
        "wind",
        "SA1",
        102,
    )
    assert "HPR1" not in units
    assert units["BW01"].oe_fueltech_id == "coal_black"
    assert all(u.fuel is None or u.fuel in FUELS for u in oe_units)


def test_stations_json_charging_halves_and_pumps_are_loads(oe_units: list[RegistryUnit]) -> None:
    units = by_duid(oe_units)
    # Open Electricity marks HPRL1 GENERATOR, but its fueltech is battery_charging.
    assert (units["HPRL1"].fuel, units["HPRL1"].dispatch_type) == ("battery", "load")
    assert (units["HPRG1"].fuel, units["HPRG1"].dispatch_type) == ("battery", "generator")
    assert (units["SNOWYP"].fuel, units["SNOWYP"].dispatch_type) == ("pumped_hydro", "load")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (FORBIDDEN_PAGE, "HTML page"),
        (b"{not json", "not valid JSON"),
        (b'{"stations": []}', "list of stations"),
        (b'[{"code": "X", "facilities": [{"code": "X1"}]}]', "lacks"),
    ],
)
def test_unusable_stations_json_is_refused(body: bytes, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        read_stations_json(body)


# --------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize(
    ("duid", "station_name", "fuel"),
    [
        ("XYZBESS1", None, "battery"),
        ("ABCBA1", None, "battery"),
        ("ABCWF1", None, "wind"),
        ("PORTWF", None, "wind"),
        ("DEFSF1", None, "solar_utility"),
        ("GHIPV1", None, "solar_utility"),
        ("KIDSPHL1", None, "pumped_hydro"),
        ("JKLHYD1", None, "hydro"),
        ("MNOGT1", None, "gas_ocgt"),
        ("PQRCCGT", None, "gas_ccgt"),
        ("STUWWDG1", None, "distillate"),
        ("PIONEER", "Pioneer Sugar Mill", "biomass"),
        ("QRS1", "Quartz Ridge Solar Farm", "solar_utility"),
        ("TUV1", "Tuvalu Energy Storage", "battery"),
        ("TORRB1", None, None),  # a "B" station unit, not a battery
        ("PIONEER", None, None),
    ],
)
def test_classify_by_name(duid: str, station_name: str | None, fuel: str | None) -> None:
    unit = classify_by_name(duid, station_name)
    assert unit.fuel == fuel
    assert unit.inferred
    assert unit.source == SOURCE_NAME
    assert unit.note  # says which rule matched, or that none did
    assert not unit.is_aggregate


def test_pseudo_units_are_aggregates_of_their_region() -> None:
    units = by_duid(classify_unknown(["DG_NSW1", "RT_VIC10", " RT_SA6 ", "RT_VIC10", ""]))
    assert set(units) == {"DG_NSW1", "RT_VIC10", "RT_SA6"}
    assert {d: u.region for d, u in units.items()} == {
        "DG_NSW1": "NSW1",
        "RT_VIC10": "VIC1",
        "RT_SA6": "SA1",
    }
    assert all(u.fuel == "other" and u.is_aggregate and u.inferred for u in units.values())


def test_name_rules_agree_with_aemo_on_the_units_it_lists(aemo_units: list[RegistryUnit]) -> None:
    """The rules are a last resort; on the real list they must be right far more than wrong."""
    judged = [
        (u.fuel, guess.fuel)
        for u in aemo_units
        if u.fuel is not None and (guess := classify_by_name(u.duid, u.station_name)).fuel
    ]
    agree = sum(1 for truth, guess in judged if truth == guess)
    assert len(judged) > 300
    assert agree / len(judged) >= 0.9


# --------------------------------------------------------------------------------------------
# The merged registry


def test_registry_covers_every_scada_duid(
    registry: dict[str, dict[str, object]], scada_duids: list[str]
) -> None:
    assert len(scada_duids) == 493
    assert set(scada_duids) <= registry.keys()
    scada_rows = [registry[d] for d in scada_duids]
    assert Counter(r["identity_source"] for r in scada_rows) == {
        SOURCE_AEMO: 457,  # fixtures README: 457 of the 493 are in the workbook
        SOURCE_OE: 2,  # PIONEER and PORTWF
        SOURCE_NAME: 34,  # 5 DG_*, 26 RT_*, KIDSPHG2, KIDSPHL1, KIDSPHL2
    }
    assert all(r["fuel"] in FUELS for r in scada_rows)


def test_registry_rows_for_unlisted_scada_units(registry: dict[str, dict[str, object]]) -> None:
    dg = registry["DG_QLD1"]
    assert (dg["fuel"], dg["region"], dg["is_aggregate"], dg["inferred"]) == (
        "other",
        "QLD1",
        True,
        True,
    )
    assert dg["fuel_source"] == SOURCE_NAME
    assert registry["RT_VIC12"]["is_aggregate"] is True
    pioneer = registry["PIONEER"]
    assert (pioneer["fuel"], pioneer["identity_source"], pioneer["inferred"]) == (
        "biomass",
        SOURCE_OE,
        False,
    )
    assert (registry["PORTWF"]["fuel"], registry["PORTWF"]["region"]) == ("wind", "VIC1")
    kidston = registry["KIDSPHL1"]
    assert kidston["fuel"] == "pumped_hydro"
    assert kidston["inferred"] is True
    # Borrowed from the listed KIDSPHG1 (same DUID stem); still flagged inferred.
    assert (kidston["station_name"], kidston["region"]) == ("Kidston Hydro Project", "QLD1")
    assert "KIDSPHG1" in str(kidston["note"])


def test_registry_precedence_and_provenance(registry: dict[str, dict[str, object]]) -> None:
    bw01 = registry["BW01"]
    assert (bw01["fuel"], bw01["region"], bw01["registered_capacity_mw"]) == (
        "coal_black",
        "NSW1",
        660,
    )
    assert bw01["identity_source"] == bw01["fuel_source"] == bw01["capacity_source"] == SOURCE_AEMO
    assert bw01["identity_source_date"] == date(2026, 3, 25)
    assert bw01["oe_fueltech_id"] == "coal_black"
    assert bw01["inferred"] is False
    # AEMO names no fuel for Wivenhoe's pumps: Open Electricity's "pumps" decides.
    pump1 = registry["PUMP1"]
    assert (pump1["fuel"], pump1["fuel_source"], pump1["identity_source"]) == (
        "pumped_hydro",
        SOURCE_OE,
        SOURCE_AEMO,
    )
    assert pump1["fuel_source_date"] == date(2025, 6, 1)
    # Tumut 3's generator is "Hydro - Gravity" in AEMO's list, but its pumps are listed apart.
    assert registry["TUMUT3"]["fuel"] == "pumped_hydro"
    assert registry["SHGEN"]["fuel"] == "pumped_hydro"
    assert registry["GORDON"]["fuel"] == "hydro"
    # AEMO lists HPR1; Open Electricity only the old split DUIDs, which are kept from it.
    assert (registry["HPR1"]["fuel"], registry["HPR1"]["storage_mwh"]) == ("battery", 194)
    hprg1 = registry["HPRG1"]
    assert (hprg1["identity_source"], hprg1["capacity_source"]) == (SOURCE_OE, SOURCE_OE)
    assert hprg1["participant"] is None
    # Listed by AEMO without a fuel and unknown to Open Electricity: fuel "other", inferred.
    basslink = registry["BLNKTAS"]
    assert (basslink["fuel"], basslink["fuel_source"], basslink["inferred"]) == (
        "other",
        SOURCE_NAME,
        True,
    )
    assert basslink["region"] == "TAS1"


def test_aemo_capacity_wins_over_open_electricity(
    aemo_units: list[RegistryUnit], oe_units: list[RegistryUnit]
) -> None:
    # MOORAWF1: AEMO 312 MW, Open Electricity 150 MW.
    table = build_registry(aemo_units, oe_units)
    row = next(r for r in table.to_pylist() if r["duid"] == "MOORAWF1")
    assert (row["registered_capacity_mw"], row["capacity_source"]) == (312, SOURCE_AEMO)


def test_registry_table_shape(aemo_units: list[RegistryUnit], oe_units: list[RegistryUnit]) -> None:
    table = build_registry(aemo_units, oe_units)
    assert table.schema == REGISTRY_SCHEMA
    duids = [str(d) for d in table.column("duid").to_pylist()]
    assert duids == sorted(duids)
    assert len(set(duids)) == len(duids) == 563 + 210  # Open Electricity adds 210 unlisted units
    assert table.column("fuel").null_count == 0
    assert table.column("identity_source").null_count == 0


def test_registry_without_open_electricity(aemo_units: list[RegistryUnit]) -> None:
    table = build_registry(aemo_units, None, ["NEWSF1"])
    rows = {r["duid"]: r for r in table.to_pylist()}
    assert len(rows) == 564
    assert (rows["PUMP1"]["fuel"], rows["PUMP1"]["fuel_source"]) == ("pumped_hydro", SOURCE_NAME)
    assert (rows["NEWSF1"]["fuel"], rows["NEWSF1"]["inferred"]) == ("solar_utility", True)
    assert rows["NEWSF1"]["region"] is None
    assert pa.compute.sum(table.column("inferred")).as_py() >= 1


# --------------------------------------------------------------------------------------------
# Downloads from a real local HTTP server

Route = tuple[int, bytes, str, dict[str, str]]


class AemoSite:
    """A real HTTP server on 127.0.0.1 answering fixed routes, recording the requests' headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((self.path, self.headers.get("User-Agent")))
                status, body, content_type, headers = site.routes.get(
                    self.path, (404, b"<html>not found</html>", "text/html", {})
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Keep the test output quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, status: int, body: bytes, content_type: str, **headers: str) -> str:
        """Serve ``body`` at ``path``; return its full URL."""
        self.routes[path] = (
            status,
            body,
            content_type,
            {k.replace("_", "-"): v for k, v in headers.items()},
        )
        return self.url + path


@pytest.fixture
def aemo_site() -> Iterator[AemoSite]:
    site = AemoSite()
    site.thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()
        site.thread.join(timeout=5)


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", user_agent="nemdash-test/1", http_timeout=10)


def test_download_of_the_real_workbook(
    aemo_site: AemoSite, settings: Settings, workbook_bytes: bytes
) -> None:
    url = aemo_site.route(
        "/list.xlsx", 200, workbook_bytes, XLSX_TYPE, Last_Modified="Tue, 24 Mar 2026 21:54:51 GMT"
    )
    data, day = fetch_bytes(url, settings)
    assert data == workbook_bytes
    assert day == date(2026, 3, 25)  # 21:54 GMT is the next morning in NEM time
    assert aemo_site.requests == [("/list.xlsx", "nemdash-test/1")]
    assert len(read_registration_list(data)) == 563


@pytest.mark.parametrize(
    "answers",
    [
        [("/list.xlsx", 403, FORBIDDEN_PAGE, "text/html", {})],
        [
            ("/list.xlsx", 302, b"", "text/html", {"Location": "/denied"}),
            ("/denied", 403, FORBIDDEN_PAGE, "text/html", {}),
        ],
        [("/list.xlsx", 200, FORBIDDEN_PAGE, "text/html; charset=utf-8", {})],
        [("/list.xlsx", 200, FORBIDDEN_PAGE, XLSX_TYPE, {})],
    ],
    ids=["403", "redirect-to-403", "200-html", "html-sent-as-xlsx"],
)
def test_an_html_answer_is_a_registry_error(
    aemo_site: AemoSite,
    settings: Settings,
    answers: list[tuple[str, int, bytes, str, dict[str, str]]],
) -> None:
    for path, status, body, content_type, headers in answers:
        aemo_site.routes[path] = (status, body, content_type, headers)
    with pytest.raises(RegistryError) as info:
        fetch_bytes(aemo_site.url + "/list.xlsx", settings)
    message = str(info.value)
    assert "nemdash registry update --xlsx PATH" in message
    assert "403" in message or "HTML" in message


def test_a_refused_connection_is_a_registry_error(settings: Settings) -> None:
    site = AemoSite()  # bound but never serving: closed at once, so the port refuses
    url = site.url + "/list.xlsx"
    site.server.server_close()
    with httpx.Client(timeout=2) as client, pytest.raises(RegistryError, match="download failed"):
        fetch_bytes(url, settings, client=client)


def test_a_local_file_is_dated_by_its_mtime(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "stations.json"
    path.write_bytes(b"[]")
    data, day = fetch_bytes(str(path), settings)
    assert data == b"[]"
    assert isinstance(day, date)
    with pytest.raises(RegistryError, match="no such file"):
        fetch_bytes(str(tmp_path / "missing.xlsx"), settings)


# --------------------------------------------------------------------------------------------
# update_registry: through the real lake


def _stored(lake: Lake) -> pa.Table:
    """The registry as the lake holds it (its one live file)."""
    (live,) = lake.live_files(REGISTRY_TABLE)
    return pq.read_table(live.path)


def test_update_registry_from_local_files(
    shared_fixtures: Path, settings: Settings, scada_duids: list[str]
) -> None:
    lake = Lake(settings.paths)
    with lake.writer() as writer:
        summary = update_registry(
            writer,
            settings,
            xlsx=shared_fixtures / WORKBOOK,
            stations_json=str(shared_fixtures / STATIONS),
            extra_duids=scada_duids,
        )
    assert summary.units == 563 + 210 + 34
    assert summary.by_source == {SOURCE_AEMO: 563, SOURCE_OE: 210, SOURCE_NAME: 34}
    assert summary.aggregates == 31
    assert summary.inferred == 42  # the 34 by name, plus 8 listed units whose fuel no source gives
    assert summary.version == lake.version() == 1
    stored = _stored(lake)
    assert stored.num_rows == summary.units
    assert stored.schema.equals(REGISTRY_SCHEMA)
    # Queryable provenance, read by DuckDB straight from the lake file.
    (live,) = lake.live_files(REGISTRY_TABLE)
    counts = duckdb.execute(
        "SELECT fuel_source, count(*) FROM read_parquet(?) GROUP BY 1 ORDER BY 1",
        [str(live.path)],
    ).fetchall()
    assert dict(counts) == summary.fuel_by_source
    # The sources are kept, named by content, and recorded by the publish.
    kept = sorted(p.name for p in (settings.paths.registry / "sources").iterdir())
    assert kept == sorted(summary.sources)
    assert {s.name for s in lake.sources()} == set(summary.sources)
    assert {s.origin for s in lake.sources()} == {
        str(shared_fixtures / WORKBOOK),
        str(shared_fixtures / STATIONS),
    }


def test_update_registry_replaces_the_whole_table(
    shared_fixtures: Path, settings: Settings
) -> None:
    lake = Lake(settings.paths)
    with lake.writer() as writer:
        update_registry(writer, settings, xlsx=shared_fixtures / WORKBOOK, extra_duids=["XBESS1"])
        summary = update_registry(writer, settings, xlsx=shared_fixtures / WORKBOOK)
    assert summary.version == 2
    assert summary.by_source == {SOURCE_AEMO: 563}
    assert _stored(lake).num_rows == 563  # XBESS1 of the first run is gone


def test_update_registry_downloads_from_the_site(
    aemo_site: AemoSite,
    settings: Settings,
    workbook_bytes: bytes,
    stations_bytes: bytes,
) -> None:
    site_settings = settings.model_copy(
        update={
            "registry_url": aemo_site.route("/list.xlsx", 200, workbook_bytes, XLSX_TYPE),
            "stations_json_url": aemo_site.route(
                "/stations.json", 200, stations_bytes, "application/json"
            ),
        }
    )
    lake = Lake(site_settings.paths)
    with lake.writer() as writer, httpx.Client() as client:
        summary = update_registry(writer, site_settings, client=client)
    assert summary.by_source == {SOURCE_AEMO: 563, SOURCE_OE: 210}
    assert aemo_site.requests == [
        ("/list.xlsx", "nemdash-test/1"),
        ("/stations.json", "nemdash-test/1"),
    ]
    assert _stored(lake).num_rows == 773


@pytest.mark.parametrize("path", ["/list.xlsx", "/stations.json"])
def test_a_403_page_stores_nothing(
    aemo_site: AemoSite,
    settings: Settings,
    workbook_bytes: bytes,
    path: str,
) -> None:
    aemo_site.route("/list.xlsx", 200, workbook_bytes, XLSX_TYPE)
    aemo_site.route("/stations.json", 200, b"[]", "application/json")
    aemo_site.route(path, 403, FORBIDDEN_PAGE, "text/html")
    site_settings = settings.model_copy(
        update={
            "registry_url": aemo_site.url + "/list.xlsx",
            "stations_json_url": aemo_site.url + "/stations.json",
        }
    )
    lake = Lake(site_settings.paths)
    with lake.writer() as writer, pytest.raises(RegistryError, match="HTTP 403"):
        update_registry(writer, site_settings)
    assert lake.version() == 0
    assert lake.tables() == []
    assert lake.sources() == []
    assert not site_settings.paths.registry.exists()
