"""The MMS CSV parser on AEMO's real files (facts verified in ../shared/fixtures/README.md) and on
malformed input, where every fault must name its line."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mms_factory import HEADER, render, scada_file
from nemdash.errors import MMSParseError, TruncatedFileError
from nemdash.nemweb.mms import Engine, MMSFile, parse_mms
from nemdash.tables import DISPATCH_PRICE, UNIT_SCADA

CURRENT = "Reports/CURRENT"
MMSDM = (
    "Data_Archive/Wholesale_Electricity/MMSDM/2026/MMSDM_2026_04/"
    "MMSDM_Historical_Data_SQLLoader/DATA"
)
SCADA_2021 = f"{CURRENT}/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202109021255_0000000348376188.zip"
SCADA_2025 = f"{CURRENT}/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
DISPATCHIS_2025 = (
    f"{CURRENT}/DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip"
)
DISPATCHIS_2019 = (
    f"{CURRENT}/DispatchIS_Reports/PUBLIC_DISPATCHIS_201904301035_0000000307325047.zip"
)
TRADINGIS = f"{CURRENT}/TradingIS_Reports/PUBLIC_TRADINGIS_202403031335_0000000412683134.zip"
ROOFTOP = (
    f"{CURRENT}/ROOFTOP_PV/ACTUAL/"
    "PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240303200000_0000000412707330.zip"
)
MMSDM_PRICE = f"{MMSDM}/PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE01%23202604010000.zip"
MMSDM_SCADA = f"{MMSDM}/PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202604010000.zip"
ALL_FILES = (SCADA_2021, SCADA_2025, DISPATCHIS_2025, DISPATCHIS_2019, TRADINGIS, ROOFTOP)
ALL_FILES += (MMSDM_PRICE, MMSDM_SCADA)


def csv_bytes(root: Path, relative: str) -> tuple[str, bytes]:
    """The one CSV inside a fixture zip, with its display name."""
    path = root / relative
    with zipfile.ZipFile(path) as archive:
        (name,) = archive.namelist()
        return f"{path.name}!{name}", archive.read(name)


def parse_fixture(
    root: Path, relative: str, *, keep: set[str] | None = None, engine: Engine = "auto"
) -> MMSFile:
    """Parse a fixture's CSV."""
    name, data = csv_bytes(root, relative)
    return parse_mms(data, name, keep=keep, engine=engine)


def by_key(table: pa.Table, key: str, value: str, **where: object) -> dict[str, object]:
    """``{key: value}`` over the rows matching ``where``."""
    rows = table.to_pylist()
    return {row[key]: row[value] for row in rows if all(row[k] == v for k, v in where.items())}


# -- the live files ---------------------------------------------------------------------------


def test_scada_2021_has_three_columns_and_null_lastchanged(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, SCADA_2021)
    (block,) = mms.blocks
    assert (block.report, block.subtype, block.version) == ("DISPATCH", "UNIT_SCADA", 1)
    assert block.columns == ("settlementdate", "duid", "scadavalue")
    assert block.first_line == 2
    assert block.rows == 390
    assert (mms.line_count, mms.footer_count, mms.footer_ok) == (393, 393, True)
    assert mms.report_name == "DISPATCHSCADA"
    assert mms.created == datetime(2021, 9, 2, 12, 50, 16)
    table = mms.tables()["unit_scada"]
    assert table.schema == UNIT_SCADA.arrow_schema
    assert table.column("lastchanged").null_count == 390
    assert set(table.column("settlementdate").to_pylist()) == {datetime(2021, 9, 2, 12, 55)}
    mw = table.column("scadavalue")
    assert round(pc.sum(mw).as_py(), 3) == 17941.759
    assert pc.sum(pc.less(mw, 0)).as_py() == 8
    values = by_key(table, "duid", "scadavalue")
    assert min(values.items(), key=lambda kv: kv[1]) == ("RPCG", -2.4)
    assert max(values.items(), key=lambda kv: kv[1]) == ("BW02", 569.20007)
    assert (values["BW01"], values["ER01"], values["HDWF2"]) == (332.0249, 308.67505, 91.7)


def test_scada_2025_has_lastchanged_batteries_and_pseudo_units(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, SCADA_2025)
    (block,) = mms.blocks
    assert block.columns == ("settlementdate", "duid", "scadavalue", "lastchanged")
    assert (block.rows, mms.line_count, mms.footer_count) == (493, 496, 496)
    table = mms.tables()["unit_scada"]
    assert table.column("lastchanged").null_count == 0
    assert set(table.column("lastchanged").to_pylist()) == {datetime(2025, 12, 27, 0, 0, 22)}
    mw = table.column("scadavalue")
    assert round(pc.sum(mw).as_py(), 3) == 19436.437
    assert pc.sum(pc.less(mw, 0)).as_py() == 39
    values = by_key(table, "duid", "scadavalue")
    assert min(values.items(), key=lambda kv: kv[1]) == ("BLYTHB1", -50.73)
    assert max(values.items(), key=lambda kv: kv[1]) == ("KPP_1", 715.97827)
    assert values["BW01"] == 328.16663
    assert values["ER01"] == 491.88983
    assert (values["LYA1"], values["HPR1"], values["HDWF2"]) == (344.0, -0.6, 76.5)
    assert any(duid.startswith("DG_") for duid in values)
    assert any(duid.startswith("RT_") for duid in values)


def test_dispatchis_2025_prices_demand_and_flows(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, DISPATCHIS_2025)
    assert (mms.line_count, mms.footer_count) == (985, 985)
    blocks = {b.subtype: b for b in mms.blocks}
    assert (blocks["PRICE"].version, len(blocks["PRICE"].columns), blocks["PRICE"].rows) == (
        5,
        66,
        5,
    )
    regionsum = blocks["REGIONSUM"]
    assert (regionsum.version, len(regionsum.columns), regionsum.rows) == (9, 126, 5)
    assert blocks["INTERCONNECTORRES"].rows == 6
    assert (blocks["CONSTRAINT"].rows, blocks["CONSTRAINT"].table) == (876, None)
    assert (blocks["LOCAL_PRICE"].rows, blocks["LOCAL_PRICE"].spec) == (80, None)
    tables = mms.tables()
    assert set(tables) == {"dispatch_price", "dispatch_regionsum", "interconnector_flow"}
    price = tables["dispatch_price"]
    assert price.schema == DISPATCH_PRICE.arrow_schema
    assert by_key(price, "regionid", "rrp") == {
        "NSW1": 33.51273,
        "QLD1": 34.75,
        "SA1": 0.02331,
        "TAS1": 1.12,
        "VIC1": -2.69976,
    }
    assert set(price.column("dispatchinterval").to_pylist()) == {20251226241}
    assert set(price.column("settlementdate").to_pylist()) == {datetime(2025, 12, 27, 0, 5)}
    demand = by_key(tables["dispatch_regionsum"], "regionid", "totaldemand")
    assert demand == {
        "NSW1": 6257.51,
        "QLD1": 6123.52,
        "SA1": 1381.2,
        "TAS1": 885.05,
        "VIC1": 4033.67,
    }
    flows = tables["interconnector_flow"]
    assert by_key(flows, "interconnectorid", "meteredmwflow")["VIC1-NSW1"] == 1087.51257
    assert by_key(flows, "interconnectorid", "mwflow")["VIC1-NSW1"] == 1110.2242
    assert by_key(flows, "interconnectorid", "mwflow")["T-V-MNSP1"] == 0


def test_dispatchis_2019_intervention_rows_and_v4_schema(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, DISPATCHIS_2019)
    assert (mms.line_count, mms.footer_count, mms.footer_ok) == (1620, 1620, True)
    blocks = {b.subtype: b for b in mms.blocks}
    assert (blocks["PRICE"].version, blocks["PRICE"].rows) == (4, 10)
    assert (blocks["REGIONSUM"].version, blocks["REGIONSUM"].rows) == (4, 10)
    assert (len(blocks["PRICE"].columns), len(blocks["REGIONSUM"].columns)) == (56, 105)
    price = mms.tables()["dispatch_price"]
    # One-second FCAS prices arrived with v5: kept columns absent from v4 are all NULL.
    assert "raise1secrrp" not in blocks["PRICE"].columns
    assert price.column("raise1secrrp").null_count == price.column("lower1secrrp").null_count == 10
    assert price.column("raise6secrrp").null_count == 0
    market = by_key(price, "regionid", "rrp", intervention=0)
    intervention = by_key(price, "regionid", "rrp", intervention=1)
    assert market == {
        "VIC1": 89.02718,
        "NSW1": 82.40555,
        "SA1": 73.57078,
        "QLD1": 80.24907,
        "TAS1": 94.91969,
    }
    assert intervention == {
        "VIC1": 81.93516,
        "NSW1": 75.84102,
        "SA1": 61.86495,
        "QLD1": 73.85633,
        "TAS1": 87.57611,
    }


def test_tradingis_prices_and_unkept_interconnector_block(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, TRADINGIS)
    assert (mms.line_count, mms.footer_count) == (15, 15)
    inter, price_block = mms.blocks
    assert (inter.report, inter.subtype, inter.version, inter.rows) == (
        "TRADING",
        "INTERCONNECTORRES",
        2,
        6,
    )
    assert (inter.spec, inter.table) == (None, None)
    assert "meteredmwflow" in inter.columns
    assert (price_block.version, price_block.rows, price_block.first_line) == (3, 5, 9)
    price = mms.tables()["trading_price"]
    assert by_key(price, "regionid", "rrp") == {
        "SA1": -63.45,
        "NSW1": 77.06,
        "QLD1": 86.0,
        "TAS1": -40.01,
        "VIC1": -67.1,
    }
    assert set(price.column("periodid").to_pylist()) == {163}
    assert set(price.column("price_status").to_pylist()) == {"FIRM"}
    assert set(price.column("settlementdate").to_pylist()) == {datetime(2024, 3, 3, 13, 35)}


def test_rooftop_has_regions_and_sub_regions(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, ROOFTOP)
    assert (mms.line_count, mms.footer_count, mms.blocks[0].version) == (13, 13, 2)
    table = mms.tables()["rooftop_pv"]
    power = by_key(table, "regionid", "power")
    assert set(power) == {
        "NSW1",
        "QLD1",
        "SA1",
        "TAS1",
        "VIC1",
        "QLDC",
        "QLDN",
        "QLDS",
        "TASN",
        "TASS",
    }
    assert power["SA1"] == 6.617
    assert all(v == 0 for k, v in power.items() if k != "SA1")
    assert set(table.column("interval_datetime").to_pylist()) == {datetime(2024, 3, 3, 19, 30)}
    assert set(table.column("type").to_pylist()) == {"MEASUREMENT"}
    assert set(table.column("qi").to_pylist()) == {1.0}


# -- the MMSDM monthly files (rewritten by NEMOSIS: unquoted, mixed line ends, old footers) -----


def test_mmsdm_price_month_records_the_footer_mismatch(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, MMSDM_PRICE)
    assert mms.report_name == "DVD_DISPATCHPRICE"
    assert (mms.line_count, mms.footer_count, mms.footer_ok) == (2883, 43203, False)
    price = mms.tables()["dispatch_price"]
    assert price.num_rows == 2880
    times = price.column("settlementdate")
    assert pc.min(times).as_py() == datetime(2026, 4, 1, 0, 5)
    assert pc.max(times).as_py() == datetime(2026, 5, 1, 0, 0)
    for region, mean, low, high in (
        ("NSW1", 65.6174, -0.97188, 235.26),
        ("SA1", 39.5602, -188.99, 256.89218),
    ):
        rrp = price.filter(pc.equal(price.column("regionid"), region)).column("rrp")
        assert pc.mean(rrp).as_py() == pytest.approx(mean, abs=5e-5)
        assert (pc.min(rrp).as_py(), pc.max(rrp).as_py()) == (low, high)


def test_mmsdm_scada_month(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, MMSDM_SCADA)
    assert (mms.line_count, mms.footer_count, mms.footer_ok) == (2883, 4375306, False)
    table = mms.tables()["unit_scada"]
    assert table.num_rows == 2880
    aglhal = table.filter(pc.equal(table.column("duid"), "AGLHAL")).column("scadavalue")
    hdwf2 = table.filter(pc.equal(table.column("duid"), "HDWF2")).column("scadavalue")
    assert (len(aglhal), pc.max(aglhal).as_py(), pc.min(aglhal).as_py()) == (1440, 0.0, 0.0)
    assert round(pc.sum(hdwf2).as_py(), 3) == 56324.2
    assert pc.max(hdwf2).as_py() == 100.1
    assert table.column("lastchanged").null_count == 0


@pytest.mark.parametrize("relative", ALL_FILES)
def test_every_engine_reads_every_fixture_the_same(nemweb_root: Path, relative: str) -> None:
    name, data = csv_bytes(nemweb_root, relative)
    exact = parse_mms(data, name, engine="python")
    for engine in ("arrow", "auto"):
        other = parse_mms(data, name, engine=engine)
        assert [b.rows for b in other.blocks] == [b.rows for b in exact.blocks]
        assert other.line_count == exact.line_count
        assert other.tables().keys() == exact.tables().keys()
        for spec_name, table in exact.tables().items():
            assert other.tables()[spec_name].equals(table), (engine, spec_name)


def test_keep_converts_only_the_named_tables(nemweb_root: Path) -> None:
    mms = parse_fixture(nemweb_root, DISPATCHIS_2025, keep={"dispatch_price"})
    assert set(mms.tables()) == {"dispatch_price"}
    regionsum = next(b for b in mms.blocks if b.subtype == "REGIONSUM")
    assert (regionsum.rows, regionsum.table) == (5, None)
    assert regionsum.spec is not None


def test_keep_rejects_an_unknown_table_name(nemweb_root: Path) -> None:
    with pytest.raises(KeyError, match="known tables"):
        parse_fixture(nemweb_root, DISPATCHIS_2025, keep={"dispatch_prices"})


# -- format details ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["arrow", "python"])
def test_empty_fields_are_null_and_quotes_are_optional(engine: Engine) -> None:
    data = scada_file(
        [
            ("BW01", "5", '"2025/12/27 00:00:22"'),
            ("BW02", "", ""),
            ('"ER01"', '""', "2025/12/27 00:00:21"),
            ("HPR1", "-0.60", '""'),
        ],
        newline="\n",
    )
    table = parse_mms(data, "x.CSV", engine=engine).tables()["unit_scada"]
    assert table.to_pylist() == [
        {
            "settlementdate": datetime(2025, 12, 27, 0, 5),
            "duid": "BW01",
            "scadavalue": 5.0,
            "lastchanged": datetime(2025, 12, 27, 0, 0, 22),
        },
        {
            "settlementdate": datetime(2025, 12, 27, 0, 5),
            "duid": "BW02",
            "scadavalue": None,
            "lastchanged": None,
        },
        {
            "settlementdate": datetime(2025, 12, 27, 0, 5),
            "duid": "ER01",
            "scadavalue": None,
            "lastchanged": datetime(2025, 12, 27, 0, 0, 21),
        },
        {
            "settlementdate": datetime(2025, 12, 27, 0, 5),
            "duid": "HPR1",
            "scadavalue": -0.6,
            "lastchanged": None,
        },
    ]


@pytest.mark.parametrize("engine", ["arrow", "python"])
def test_same_table_twice_with_two_versions_is_concatenated(engine: Engine) -> None:
    lines = [
        ",".join(HEADER),
        "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE",
        'D,DISPATCH,UNIT_SCADA,1,"2021/09/02 12:55:00",BW01,1.5',
        "C,a comment between tables",
        "I,DISPATCH,UNIT_SCADA,2,DUID,LASTCHANGED,SCADAVALUE,SETTLEMENTDATE,EXTRA",
        'D,DISPATCH,UNIT_SCADA,2,BW02,"2025/12/27 00:00:22",-3,"2025/12/27 00:05:00",x',
        "C,a comment inside a table",
        'D,DISPATCH,UNIT_SCADA,2,BW03,,7,"2025/12/27 00:05:00",y',
    ]
    mms = parse_mms(render(lines, newlines=("\r\n", "\n")), "x", engine=engine)
    assert [(b.version, b.first_line, b.rows) for b in mms.blocks] == [(1, 2, 1), (2, 5, 2)]
    assert mms.line_count == mms.footer_count == 9
    table = mms.tables()["unit_scada"]
    assert table.column("duid").to_pylist() == ["BW01", "BW02", "BW03"]
    assert table.column("scadavalue").to_pylist() == [1.5, -3.0, 7.0]
    assert table.column("lastchanged").to_pylist() == [None, datetime(2025, 12, 27, 0, 0, 22), None]


def test_last_line_without_newline_and_trailing_blank_lines() -> None:
    rows = [("BW01", "1", "")]
    bare = scada_file(rows).rstrip(b"\r\n")
    padded = scada_file(rows) + b"\r\n\r\n"
    for data in (bare, padded):
        mms = parse_mms(data, "x")
        assert (mms.line_count, mms.footer_ok, mms.blocks[0].rows) == (4, True, 1)


def test_values_are_kept_exactly() -> None:
    data = scada_file([("A", "33.51273", ""), ("B", "0.30000000000000004", ""), ("C", "1e-7", "")])
    for engine in ("arrow", "python"):
        table = parse_mms(data, "x", engine=engine).tables()["unit_scada"]
        assert table.column("scadavalue").to_pylist() == [33.51273, 0.30000000000000004, 1e-7]


def test_a_wrong_footer_count_is_recorded_not_raised() -> None:
    lines = [",".join(HEADER), "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE"]
    mms = parse_mms(render(lines, footer=4375306), "x")
    assert (mms.line_count, mms.footer_count, mms.footer_ok) == (3, 4375306, False)


# -- malformed input: the exact line and reason, from both engines ------------------------------

GOOD = [
    ",".join(HEADER),
    "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED",
    'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",BW01,328.16663,"2025/12/27 00:00:22"',
    'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",BW02,301.5,"2025/12/27 00:00:22"',
    'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",ER01,491.88983,"2025/12/27 00:00:22"',
]


def with_line(number: int, text: str) -> list[str]:
    """GOOD with line ``number`` (1-based) replaced."""
    lines = list(GOOD)
    lines[number - 1] = text
    return lines


MALFORMED = {
    "wrong subtype": (
        with_line(4, 'D,DISPATCH,UNIT_SOLAR,1,"2025/12/27 00:05:00",BW02,301.5,""'),
        4,
        "a D row of DISPATCH,UNIT_SOLAR v1 under the I row of DISPATCH,UNIT_SCADA v1 at line 2",
    ),
    "wrong version": (
        with_line(5, 'D,DISPATCH,UNIT_SCADA,2,"2025/12/27 00:05:00",ER01,1,""'),
        5,
        "under the I row of DISPATCH,UNIT_SCADA v1 at line 2",
    ),
    "too few fields": (
        with_line(4, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",BW02,301.5'),
        4,
        "7 fields, but the I row of DISPATCH,UNIT_SCADA v1 at line 2 declares 8",
    ),
    "too many fields": (
        with_line(3, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",BW01,1,"",9'),
        3,
        "9 fields",
    ),
    "not a number": (
        with_line(5, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",ER01,4x1.9,""'),
        5,
        "SCADAVALUE '4x1.9' is not a number",
    ),
    "not finite": (
        with_line(5, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",ER01,nan,""'),
        5,
        "SCADAVALUE 'nan' is not a number",
    ),
    "day that does not exist": (
        with_line(4, 'D,DISPATCH,UNIT_SCADA,1,"2025/02/30 00:05:00",BW02,1,""'),
        4,
        "SETTLEMENTDATE '2025/02/30 00:05:00' is not a time",
    ),
    "ISO time": (
        with_line(3, "D,DISPATCH,UNIT_SCADA,1,2025-12-27T00:05:00,BW01,1,"),
        3,
        "SETTLEMENTDATE '2025-12-27T00:05:00' is not a time",
    ),
    "not a C, I or D row": (
        with_line(4, "X,DISPATCH,UNIT_SCADA,1,a,b,c,d"),
        4,
        "not a C, I or D row: it starts with 'X'",
    ),
    "empty line": (with_line(4, ""), 4, "an empty line"),
    "D row before any I row": (
        [GOOD[0], GOOD[2], *GOOD[1:]],
        2,
        "a D row before any I row",
    ),
    "unterminated quote": (
        with_line(4, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00,BW02,1,'),
        4,
        "malformed CSV",
    ),
    "text after a closing quote": (
        with_line(5, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00"x,ER01,1,'),
        5,
        "malformed CSV",
    ),
    "carriage return inside a line": (
        with_line(3, 'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",BW\r01,1,'),
        3,
        "a carriage return inside the line",
    ),
    "missing header": (GOOD[1:], 1, "expected AEMO's C header row"),
    "I row without columns": (with_line(2, "I,DISPATCH,UNIT_SCADA,1"), 2, "names no columns"),
    "version not a number": (
        with_line(2, "I,DISPATCH,UNIT_SCADA,v1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED"),
        2,
        "version 'v1' is not a whole number",
    ),
    "column twice": (
        with_line(2, "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,DUID"),
        2,
        "names column 'DUID' twice",
    ),
    "END OF REPORT too early": (
        with_line(4, 'C,"END OF REPORT",4'),
        4,
        "END OF REPORT before the end of the file",
    ),
    "whole number too large": (
        [
            ",".join(HEADER),
            "I,TRADING,PRICE,3,SETTLEMENTDATE,PERIODID,REGIONID,RRP",
            'D,TRADING,PRICE,3,"2024/03/03 13:35:00",163,NSW1,77.06',
            'D,TRADING,PRICE,3,"2024/03/03 13:35:00",99999999999999999999,QLD1,86',
        ],
        4,
        "PERIODID '99999999999999999999' is not a whole number",
    ),
    "hexadecimal whole number": (
        [
            ",".join(HEADER),
            "I,TRADING,PRICE,3,SETTLEMENTDATE,PERIODID,REGIONID,RRP",
            'D,TRADING,PRICE,3,"2024/03/03 13:35:00",0x1f,NSW1,77.06',
        ],
        3,
        "PERIODID '0x1f' is not a whole number",
    ),
}


@pytest.mark.parametrize("engine", ["arrow", "python"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_names_the_line(case: str, engine: Engine) -> None:
    lines, line, reason = MALFORMED[case]
    with pytest.raises(MMSParseError) as caught:
        parse_mms(render(lines), "PUBLIC_X.zip!PUBLIC_X.CSV", engine=engine)
    assert caught.value.line == line, caught.value
    assert reason in caught.value.reason
    assert caught.value.source == "PUBLIC_X.zip!PUBLIC_X.CSV"
    assert str(caught.value).startswith(f"PUBLIC_X.zip!PUBLIC_X.CSV, line {line}: ")


def test_undecodable_bytes_name_their_line() -> None:
    data = render(GOOD).replace(b"BW02", b"BW\xff2")
    with pytest.raises(MMSParseError, match="line 4: byte 0xff is not UTF-8") as caught:
        parse_mms(data, "x")
    assert caught.value.line == 4


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (render(GOOD)[: render(GOOD).rindex(b"C,")], 5),
        (render(GOOD)[:-6], 6),
        (b"C,NEMP.WORLD,DISPATCHSCADA,AEMO\r\n", 1),
        (b"", 1),
    ],
    ids=["footer missing", "cut in the footer", "header only", "empty"],
)
def test_a_file_cut_short_raises_truncated(data: bytes, line: int) -> None:
    with pytest.raises(TruncatedFileError) as caught:
        parse_mms(data, "x")
    assert caught.value.line == line
    assert "download it again" in str(caught.value)


def test_lines_after_the_footer_are_an_error() -> None:
    data = render(GOOD) + GOOD[2].encode() + b"\r\n"
    with pytest.raises(MMSParseError, match="line 7: line 6 is the END OF REPORT row") as caught:
        parse_mms(data, "x")
    assert not isinstance(caught.value, TruncatedFileError)


def test_an_html_page_is_not_an_mms_file() -> None:
    page = b"<!DOCTYPE html><html><head><title>403 - Forbidden</title></head></html>"
    with pytest.raises(MMSParseError, match="line 1: expected AEMO's C header row"):
        parse_mms(page, "x")


def test_a_large_file_with_several_tables_splits_at_the_right_lines() -> None:
    # Over 256 KiB, block ends are found with RE2 through pyarrow rather than with `re`.
    scada = [
        f'D,DISPATCH,UNIT_SCADA,1,"2025/12/27 00:05:00",DU{i:05d},{i}.25,' for i in range(4000)
    ]
    prices = [f'D,TRADING,PRICE,3,"2024/03/03 13:35:00",1,R{i},{i}.5' for i in range(4000)]
    lines = [
        ",".join(HEADER),
        "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED",
        *scada,
        "I,TRADING,PRICE,3,SETTLEMENTDATE,RUNNO,REGIONID,RRP",
        *prices,
        "I,DISPATCH,CONSTRAINT,5,CONSTRAINTID,RHS",
        *[f"D,DISPATCH,CONSTRAINT,5,C{i},{i}" for i in range(4000)],
    ]
    data = render(lines)
    assert len(data) > 2 * 256 * 1024
    by_engine = {engine: parse_mms(data, "x", engine=engine) for engine in ("auto", "python")}
    for mms in by_engine.values():
        assert [(b.subtype, b.first_line, b.rows) for b in mms.blocks] == [
            ("UNIT_SCADA", 2, 4000),
            ("PRICE", 4003, 4000),
            ("CONSTRAINT", 8004, 4000),
        ]
        assert mms.footer_ok
    fast, exact = (by_engine[e].tables() for e in ("auto", "python"))
    assert fast["unit_scada"].equals(exact["unit_scada"])
    assert fast["trading_price"].equals(exact["trading_price"])
    assert fast["trading_price"].column("rrp").to_pylist()[-1] == 3999.5


def test_a_late_error_in_a_large_block_names_its_line() -> None:
    # Large enough for the Arrow reader under engine="auto"; the fault is in the last row.
    rows = [(f"DU{i:05d}", f"{i}.5", '"2025/12/27 00:00:22"') for i in range(3000)]
    rows[-1] = ("DU99999", "1.2.3", "")
    data = scada_file(rows)
    assert len(data) > 32 * 1024
    with pytest.raises(MMSParseError, match=r"SCADAVALUE '1\.2\.3' is not a number") as caught:
        parse_mms(data, "x")
    assert caught.value.line == 3002
