"""NEMWEB file names: every kind parses to the right record and builds back to the same name."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from nemdash import tables
from nemdash.nemtime import NEM_TZ
from nemdash.nemweb import filenames
from nemdash.nemweb.filenames import Kind


def test_dispatchis_current_name_gives_feed_interval_end_and_id() -> None:
    f = filenames.parse("PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip")
    assert f is not None
    assert f.kind is Kind.CURRENT
    assert f.feed == "DispatchIS_Reports"
    assert f.timestamp == datetime(2025, 12, 27, 0, 5, tzinfo=NEM_TZ)
    assert f.file_id == "0000000495867501"
    assert f.path == (
        "Reports/CURRENT/DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip"
    )
    assert set(f.feed_tables) == {"dispatch_price", "dispatch_regionsum", "interconnector_flow"}


@pytest.mark.parametrize(
    ("name", "feed"),
    [
        ("PUBLIC_DISPATCHSCADA_202109021255_0000000348376188.zip", "Dispatch_SCADA"),
        ("PUBLIC_TRADINGIS_202403031335_0000000412683134.zip", "TradingIS_Reports"),
        ("public_dispatchscada_202109021255_0000000348376188.ZIP", "Dispatch_SCADA"),
    ],
)
def test_five_minute_feeds_are_recognised(name: str, feed: str) -> None:
    f = filenames.parse(name)
    assert f is not None
    assert (f.kind, f.feed) == (Kind.CURRENT, feed)


@pytest.mark.parametrize("variant", ["MEASUREMENT", "SATELLITE"])
def test_rooftop_current_name_has_seconds_and_variant(variant: str) -> None:
    name = f"PUBLIC_ROOFTOP_PV_ACTUAL_{variant}_20240303200000_0000000412707330.zip"
    f = filenames.parse(name)
    assert f is not None
    assert f.feed == "ROOFTOP_PV_ACTUAL"
    assert f.variant == variant
    assert f.timestamp == datetime(2024, 3, 3, 20, 0, tzinfo=NEM_TZ)
    assert f.directory == "Reports/CURRENT/ROOFTOP_PV/ACTUAL/"
    assert filenames.current_name(f.feed, f.timestamp, "0000000412707330", variant) == name


def test_daily_and_weekly_archive_names() -> None:
    daily = filenames.parse("PUBLIC_DISPATCHIS_20190516.zip")
    weekly = filenames.parse("PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240314.zip")
    assert daily is not None
    assert weekly is not None
    assert (daily.kind, daily.feed, daily.day) == (
        Kind.ARCHIVE,
        "DispatchIS_Reports",
        date(2019, 5, 16),
    )
    assert daily.path == "Reports/ARCHIVE/DispatchIS_Reports/PUBLIC_DISPATCHIS_20190516.zip"
    assert (weekly.kind, weekly.feed, weekly.day) == (
        Kind.ARCHIVE,
        "ROOFTOP_PV_ACTUAL",
        date(2024, 3, 14),
    )
    assert filenames.archive_name("DispatchIS_Reports", date(2019, 5, 16)) == daily.name
    assert filenames.archive_name("ROOFTOP_PV_ACTUAL", date(2024, 3, 14)) == weekly.name


def test_mmsdm_dvd_name_with_underscored_table() -> None:
    f = filenames.parse("PUBLIC_DVD_DISPATCH_UNIT_SCADA_202304010000.zip")
    assert f is not None
    assert f.kind is Kind.MMSDM
    assert (f.mmsdm_table, f.table, f.month, f.file_number) == (
        "DISPATCH_UNIT_SCADA",
        "unit_scada",
        date(2023, 4, 1),
        1,
    )
    assert f.directory == (
        "Data_Archive/Wholesale_Electricity/MMSDM/2023/MMSDM_2023_04/"
        "MMSDM_Historical_Data_SQLLoader/DATA/"
    )
    assert filenames.dvd_name("DISPATCH_UNIT_SCADA", date(2023, 4, 1)) == f.name


@pytest.mark.parametrize("sep", ["#", "%23"])
def test_mmsdm_archive_name_accepts_hash_or_percent23_and_keeps_site_spelling(sep: str) -> None:
    f = filenames.parse(f"PUBLIC_ARCHIVE{sep}DISPATCHPRICE{sep}FILE02{sep}202604010000.zip")
    assert f is not None
    assert f.name == "PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE02%23202604010000.zip"
    assert (f.table, f.file_number, f.month) == ("dispatch_price", 2, date(2026, 4, 1))
    # The literal %23 on disk must travel as %2523 in a URL.
    assert f.url_path.endswith("/PUBLIC_ARCHIVE%2523DISPATCHPRICE%2523FILE02%2523202604010000.zip")


def test_mmsdm_table_nemdash_does_not_keep_has_no_logical_table() -> None:
    f = filenames.parse("PUBLIC_DVD_DISPATCHCONSTRAINT_202304010000.zip")
    assert f is not None
    assert f.mmsdm_table == "DISPATCHCONSTRAINT"
    assert f.table is None
    assert f.feed_tables == ()


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "PUBLIC_DISPATCHIS_201913160000_0000000307931755.zip",  # month 13
        "PUBLIC_DISPATCHIS_2019051600_0000000307931755.zip",  # 10 digits
        "PUBLIC_PREDISPATCHIS_202512270005_0000000495867501.zip",
        "PUBLIC_DVD_DISPATCHPRICE_2023040100.zip",
        "DUPLICATE",
    ],
)
def test_names_that_are_not_ours_give_none(name: str) -> None:
    assert filenames.parse(name) is None


def test_every_fixture_file_parses_to_its_own_folder(nemweb_root: Path) -> None:
    files = list(nemweb_root.rglob("*.zip"))
    assert len(files) == 10
    for path in files:
        f = filenames.parse(path.name)
        assert f is not None, path
        assert f.path == path.relative_to(nemweb_root).as_posix()


def test_every_feed_prefix_is_parsed() -> None:
    for feed in tables.FEEDS.values():
        for prefix in feed.file_prefixes:
            f = filenames.parse(f"{prefix}202501010005_0000000000000001.zip")
            assert f is not None, prefix
            assert f.feed == feed.name, prefix
