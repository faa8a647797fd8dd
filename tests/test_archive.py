"""Walking NEMWEB's zips, zips of zips and plain CSVs, on AEMO's real archives and damaged ones."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mms_factory import scada_file, zip_of
from nemdash.errors import CorruptArchive, MMSParseError, SourceError, UnsupportedSource
from nemdash.nemweb.archive import Member, iter_members, read_source
from nemdash.nemweb.mms import MMSFile

DAY = "Reports/ARCHIVE/DispatchIS_Reports/PUBLIC_DISPATCHIS_20190516.zip"
WEEK = "Reports/ARCHIVE/ROOFTOP_PV/ACTUAL/PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240314.zip"
SCADA = "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"
MMSDM_PRICE = (
    "Data_Archive/Wholesale_Electricity/MMSDM/2026/MMSDM_2026_04/MMSDM_Historical_Data_SQLLoader/"
    "DATA/PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE01%23202604010000.zip"
)
FORBIDDEN = b"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN"><html><head>
<title>403 - Forbidden: Access is denied.</title></head><body><h2>403 - Forbidden</h2></body></html>
"""


@pytest.fixture(scope="module")
def day(nemweb_root: Path) -> list[MMSFile]:
    """The 288 DISPATCHIS files of 2019-05-16, parsed."""
    return list(read_source(nemweb_root / DAY))


@pytest.fixture(scope="module")
def week(nemweb_root: Path) -> list[MMSFile]:
    """The 336 rooftop PV files of the week of 2024-03-14, parsed."""
    return list(read_source(nemweb_root / WEEK))


def concat(files: list[MMSFile], name: str) -> pa.Table:
    """One table over many files."""
    return pa.concat_tables(f.tables()[name] for f in files)


def at(table: pa.Table, column: str, when: datetime) -> pa.Table:
    """Rows of ``table`` whose ``column`` is ``when``."""
    return table.filter(pc.equal(table.column(column), pa.scalar(when, pa.timestamp("us"))))


def values(table: pa.Table, key: str, value: str) -> dict[str, object]:
    """``{key: value}`` over the rows of ``table``."""
    return dict(zip(table.column(key).to_pylist(), table.column(value).to_pylist(), strict=True))


# -- real archives ----------------------------------------------------------------------------


def test_daily_archive_is_288_five_minute_files_named_through_the_nesting(
    nemweb_root: Path, day: list[MMSFile]
) -> None:
    assert len(day) == 288
    first = day[0].source
    assert first == (
        "PUBLIC_DISPATCHIS_20190516.zip!PUBLIC_DISPATCHIS_201905160000_0000000307931755.zip!"
        "PUBLIC_DISPATCHIS_201905160000_0000000307931755.CSV"
    )
    assert all(f.footer_ok for f in day)
    price = concat(day, "dispatch_price")
    assert price.num_rows == 288 * 5
    assert pc.max(price.column("intervention")).as_py() == 0
    assert {(b.subtype, b.version) for f in day for b in f.blocks} >= {
        ("PRICE", 4),
        ("REGIONSUM", 4),
    }
    assert {len(b.columns) for f in day for b in f.blocks if b.subtype == "REGIONSUM"} == {105}
    times = price.column("settlementdate")
    assert pc.min(times).as_py() == datetime(2019, 5, 16, 0, 0)
    assert pc.max(times).as_py() == datetime(2019, 5, 16, 23, 55)
    assert pc.count_distinct(times).as_py() == 288


def test_daily_archive_prices_demand_and_flows(day: list[MMSFile]) -> None:
    price = concat(day, "dispatch_price")
    assert values(at(price, "settlementdate", datetime(2019, 5, 16, 0, 0)), "regionid", "rrp") == {
        "NSW1": 73.48674,
        "QLD1": 64.77997,
        "SA1": 78.92124,
        "TAS1": 98.35,
        "VIC1": 84.24,
    }
    assert values(at(price, "settlementdate", datetime(2019, 5, 16, 18, 0)), "regionid", "rrp") == {
        "NSW1": 275.84137,
        "QLD1": 250.90115,
        "SA1": 272.72046,
        "TAS1": 273.46148,
        "VIC1": 290.0,
    }
    qld = price.filter(pc.equal(price.column("regionid"), "QLD1"))
    assert pc.min(qld.column("rrp")).as_py() == -84.31
    regionsum = at(concat(day, "dispatch_regionsum"), "settlementdate", datetime(2019, 5, 16, 18))
    demand = values(regionsum, "regionid", "totaldemand")
    assert (demand["NSW1"], demand["VIC1"]) == (9593.92, 6525.07)
    flows = at(concat(day, "interconnector_flow"), "settlementdate", datetime(2019, 5, 16, 0, 0))
    mwflow = values(flows, "interconnectorid", "mwflow")
    assert (mwflow["NSW1-QLD1"], mwflow["VIC1-NSW1"], mwflow["V-SA"]) == (
        -708,
        -224.7617,
        -153.21096,
    )


def test_weekly_rooftop_archive_is_336_half_hours_with_sub_regions(week: list[MMSFile]) -> None:
    assert len(week) == 336
    assert all(len(f.blocks) == 1 and f.blocks[0].rows == 10 for f in week)
    rooftop = concat(week, "rooftop_pv")
    assert rooftop.num_rows == 3360
    times = rooftop.column("interval_datetime")
    assert pc.min(times).as_py() == datetime(2024, 3, 13, 23, 30)
    assert pc.max(times).as_py() == datetime(2024, 3, 20, 23, 0)
    assert set(rooftop.column("type").to_pylist()) == {"MEASUREMENT"}
    assert set(rooftop.column("qi").to_pylist()) == {0.7, 1.0}
    nsw = rooftop.filter(pc.equal(rooftop.column("regionid"), "NSW1"))
    assert pc.max(nsw.column("power")).as_py() == 3938.855
    totals: dict[datetime, float] = defaultdict(float)
    for row in rooftop.to_pylist():
        if row["regionid"] in {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}:
            totals[row["interval_datetime"]] += row["power"]
    peak = max(totals, key=totals.__getitem__)
    assert (peak, round(totals[peak], 3)) == (datetime(2024, 3, 16, 12, 0), 9760.073)
    power = values(
        at(rooftop, "interval_datetime", datetime(2024, 3, 14, 11, 30)), "regionid", "power"
    )
    assert (power["NSW1"], power["QLD1"]) == (3796.875, 2800.996)
    assert (power["QLDC"], power["QLDN"], power["QLDS"]) == (231.047, 557.986, 2011.963)
    assert round(power["QLDC"] + power["QLDN"] + power["QLDS"], 3) == power["QLD1"]


def test_a_live_zip_holds_one_csv(nemweb_root: Path) -> None:
    (member,) = iter_members(nemweb_root / SCADA)
    assert member.name == (
        "PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip!"
        "PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.CSV"
    )
    assert member.data.startswith(b"C,NEMP.WORLD,DISPATCHSCADA,")


def test_an_mmsdm_member_keeps_its_hash_name(nemweb_root: Path) -> None:
    (mms,) = read_source(nemweb_root / MMSDM_PRICE, keep={"dispatch_price"})
    assert mms.source.endswith(".zip!PUBLIC_ARCHIVE#DISPATCHPRICE#FILE01#202604010000.CSV")
    assert (mms.tables()["dispatch_price"].num_rows, mms.footer_ok) == (2880, False)


def test_bytes_and_paths_give_the_same_members(nemweb_root: Path) -> None:
    path = nemweb_root / SCADA
    from_path = list(iter_members(path))
    from_bytes = list(iter_members(path.read_bytes(), path.name))
    assert from_path == from_bytes


def test_a_plain_csv_yields_itself(tmp_path: Path) -> None:
    data = scada_file([("BW01", "1", "")])
    assert list(iter_members(data, "PUBLIC_X.CSV")) == [Member("PUBLIC_X.CSV", data)]
    assert list(iter_members(data)) == [Member("<bytes>", data)]
    path = tmp_path / "public_x.csv"
    path.write_bytes(data)
    (mms,) = read_source(path)
    assert (mms.source, mms.tables()["unit_scada"].num_rows) == ("public_x.csv", 1)


def test_other_members_are_skipped_and_nesting_is_walked() -> None:
    csv_a, csv_b = scada_file([("A", "1", "")]), scada_file([("B", "2", "")])
    inner = zip_of([("B.CSV", csv_b), ("notes.txt", b"hello")])
    outer = zip_of([("readme.txt", b"x"), ("A.csv", csv_a), ("day/", b""), ("B.zip", inner)])
    members = list(iter_members(outer, "OUT.zip"))
    assert [m.name for m in members] == ["OUT.zip!A.csv", "OUT.zip!B.zip!B.CSV"]
    assert [m.data for m in members] == [csv_a, csv_b]


def test_a_parse_error_names_the_inner_file() -> None:
    broken = scada_file([("A", "x1", "")])
    outer = zip_of([("IN.zip", zip_of([("IN.CSV", broken)]))])
    with pytest.raises(MMSParseError, match=r"^OUT\.zip!IN\.zip!IN\.CSV, line 3: ") as caught:
        list(read_source(outer, "OUT.zip"))
    assert caught.value.source == "OUT.zip!IN.zip!IN.CSV"


# -- damaged and wrong bodies -----------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0001, 0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("relative", [DAY, SCADA, WEEK])
def test_a_truncated_zip_raises_corrupt_archive(
    nemweb_root: Path, relative: str, fraction: float
) -> None:
    data = (nemweb_root / relative).read_bytes()
    cut = max(2, int(len(data) * fraction))
    with pytest.raises(CorruptArchive, match="download"):
        list(iter_members(data[:cut], Path(relative).name))


def test_a_zip_cut_at_an_inner_zips_end_is_not_read_as_that_inner_zip(nemweb_root: Path) -> None:
    # The daily archive stores its inner zips uncompressed: cut right after one of them, the file
    # ends in that inner zip's end record, which zipfile alone would take for the whole archive.
    data = (nemweb_root / DAY).read_bytes()
    with zipfile.ZipFile(nemweb_root / DAY) as archive:
        info = archive.infolist()[10]
        assert info.compress_type == zipfile.ZIP_STORED
        header = data[info.header_offset : info.header_offset + 30]
        start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
        start += int.from_bytes(header[28:30], "little")
        end = start + info.compress_size
    assert zipfile.ZipFile(__import__("io").BytesIO(data[:end])).namelist()  # zipfile is fooled
    with pytest.raises(CorruptArchive, match="truncated or damaged"):
        list(iter_members(data[:end], "PUBLIC_DISPATCHIS_20190516.zip"))


def test_a_damaged_member_raises_corrupt_archive(nemweb_root: Path) -> None:
    data = bytearray((nemweb_root / SCADA).read_bytes())
    with zipfile.ZipFile(nemweb_root / SCADA) as archive:
        info = archive.infolist()[0]
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    with pytest.raises(CorruptArchive, match="cannot be extracted"):
        list(iter_members(bytes(data), "damaged.zip"))


def test_a_damaged_inner_zip_is_named() -> None:
    inner = zip_of([("IN.CSV", scada_file([("A", "1", "")]))])
    outer = zip_of([("IN.zip", inner[: len(inner) // 2])])
    with pytest.raises(CorruptArchive, match=r"^OUT\.zip!IN\.zip: "):
        list(iter_members(outer, "OUT.zip"))


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (FORBIDDEN, UnsupportedSource, "an HTML page"),
        (b"", UnsupportedSource, "empty"),
        (b"\x00\x01garbage", UnsupportedSource, "neither a zip nor an MMS CSV"),
        (b"PK\x03\x04" + b"\x00" * 100, CorruptArchive, "not a readable zip"),
    ],
    ids=["403 page", "empty", "garbage", "zip garbage"],
)
def test_a_body_that_is_not_data_is_refused(
    body: bytes, kind: type[SourceError], message: str
) -> None:
    with pytest.raises(kind, match=message) as caught:
        list(iter_members(body, "PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip"))
    assert str(caught.value).startswith("PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip: ")


def test_an_html_page_saved_as_csv_is_refused() -> None:
    with pytest.raises(UnsupportedSource, match="HTML"):
        list(iter_members(FORBIDDEN, "PUBLIC_X.CSV"))


def test_an_inner_zip_that_is_a_page_is_corrupt() -> None:
    outer = zip_of([("IN.zip", FORBIDDEN)])
    with pytest.raises(CorruptArchive, match=r"OUT\.zip!IN\.zip: named \.zip but is an HTML page"):
        list(iter_members(outer, "OUT.zip"))


def test_zips_nested_too_deep_are_refused() -> None:
    body = zip_of([("IN.CSV", scada_file([("A", "1", "")]))])
    for level in range(5):
        body = zip_of([(f"L{level}.zip", body)])
    with pytest.raises(UnsupportedSource, match="nested more than 4 deep"):
        list(iter_members(body, "OUT.zip"))


def test_a_missing_path_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSource, match="cannot read"):
        list(iter_members(tmp_path / "absent.zip"))


# -- any damage: a clean error, or exactly the original members ------------------------------


def nested_zip(stored: bool) -> bytes:
    """A small zip of zips, like a daily archive, with its inner zips stored or deflated."""
    inner = [
        (f"PUBLIC_X_{i}.zip", zip_of([(f"PUBLIC_X_{i}.CSV", scada_file([(f"U{i}", "1.5", "")]))]))
        for i in range(3)
    ]
    return zip_of(inner, stored=stored)


ZIPS = {"stored": nested_zip(True), "deflated": nested_zip(False)}


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_a_damaged_zip_raises_a_source_error_or_yields_the_same_members(
    nemweb_root: Path, data: st.DataObject
) -> None:
    which = data.draw(st.sampled_from(["stored", "deflated", "live"]))
    original = ZIPS[which] if which != "live" else (nemweb_root / SCADA).read_bytes()
    expected = list(iter_members(original, "X.zip"))
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = data.draw(st.integers(0, len(original) - 1))
    if kind == "flip":
        damaged = original[:at] + bytes([original[at] ^ data.draw(st.integers(1, 255))])
        damaged += original[at + 1 :]
    elif kind == "truncate":
        damaged = original[:at]
    elif kind == "insert":
        damaged = original[:at] + data.draw(st.binary(min_size=1, max_size=4)) + original[at:]
    else:
        damaged = original[:at] + original[at + data.draw(st.integers(1, 4)) :]
    try:
        found = list(iter_members(damaged, "X.zip"))
    except (CorruptArchive, UnsupportedSource):
        return
    assert found == expected
