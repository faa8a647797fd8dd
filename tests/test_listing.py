"""The IIS listing parser on NEMWEB's real pages, and on pages the mirror generates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nemdash.nemtime import NEM_TZ
from nemdash.nemweb import filenames
from nemdash.nemweb.listing import parse_listing
from nemdash.nemweb.mirror import listing_page


def test_server_rendered_page_gives_files_folder_sizes_and_times(shared_fixtures: Path) -> None:
    page = (shared_fixtures / "listings" / "Dispatch_SCADA.html").read_text()
    listing = parse_listing(page, "/Reports/CURRENT/Dispatch_SCADA/")
    assert listing.path == "Reports/CURRENT/Dispatch_SCADA/"
    assert listing.parent == "Reports/CURRENT/"
    assert [d.path for d in listing.dirs] == ["Reports/CURRENT/Dispatch_SCADA/DUPLICATE/"]
    assert listing.dirs[0].name == "DUPLICATE"
    assert listing.dirs[0].size is None
    files = listing.files
    assert len(files) == 578
    first, last = files[0], files[-1]
    assert first.name == "PUBLIC_DISPATCHSCADA_202108311255_0000000348260618.zip"
    assert first.path == "Reports/CURRENT/Dispatch_SCADA/" + first.name
    assert first.size == 3071
    assert first.modified == datetime(2021, 8, 31, 12, 50, tzinfo=NEM_TZ)
    assert last.name == "PUBLIC_DISPATCHSCADA_202109021300_0000000348376390.zip"
    assert last.modified == datetime(2021, 9, 2, 12, 55, tzinfo=NEM_TZ)
    # A single-digit hour is padded with a space on the page ("  1:00 PM").
    assert files[2].modified == datetime(2021, 8, 31, 13, 0, tzinfo=NEM_TZ)
    parsed = [filenames.parse(f.name) for f in files]
    assert all(p is not None and p.feed == "Dispatch_SCADA" for p in parsed)


def test_browser_saved_page_with_lower_case_tags_and_absolute_urls(shared_fixtures: Path) -> None:
    page = (shared_fixtures / "listings" / "DispatchIS_Reports_browser_saved.html").read_text()
    listing = parse_listing(page)
    assert listing.parent == "Reports/Current/"
    assert [d.name for d in listing.dirs] == ["DUPLICATE"]
    files = listing.files
    assert len(files) == 577
    assert files[0].path == (
        "Reports/Current/DispatchIS_Reports/PUBLIC_DISPATCHIS_202111081435_0000000352251582.zip"
    )
    assert files[0].size == 18166
    assert files[-1].name == "PUBLIC_DISPATCHIS_202111101435_0000000352367891.zip"
    assert files[-1].modified == datetime(2021, 11, 10, 14, 30, tzinfo=NEM_TZ)
    assert all(filenames.parse(f.name) is not None for f in files)


def test_relative_links_resolve_against_the_folder() -> None:
    page = (
        '<pre><A HREF="../">[To Parent Directory]</A><br><br>'
        '  Monday, May 1, 2023  9:05 AM   12 <A HREF="a%20b.zip">a b.zip</A><br></pre>'
    )
    listing = parse_listing(page, "Reports/CURRENT/X/")
    assert listing.parent == "Reports/CURRENT/"
    assert listing.files[0].path == "Reports/CURRENT/X/a b.zip"
    assert listing.files[0].modified == datetime(2023, 5, 1, 9, 5, tzinfo=NEM_TZ)


def test_generated_page_matches_the_real_layout_and_round_trips(shared_fixtures: Path) -> None:
    real = (shared_fixtures / "listings" / "Dispatch_SCADA.html").read_text()
    real_line = real.split("<br>")[2]  # the DUPLICATE line, after the parent link's two <br>
    when = datetime(2017, 5, 12, 10, 56, tzinfo=NEM_TZ)
    mmsdm = "PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE01%23202604010000.zip"
    page = listing_page(
        "Reports/CURRENT/Dispatch_SCADA/",
        [
            ("PUBLIC_DISPATCHSCADA_202108311255_0000000348260618.zip", False, 3071, when),
            ("DUPLICATE", True, 4096, when),
            (mmsdm, False, 140153, datetime(2026, 5, 2, 0, 0, tzinfo=UTC).astimezone(NEM_TZ)),
        ],
    )
    assert page.split("<br>")[2] == real_line
    assert '<A HREF="/Reports/CURRENT/">[To Parent Directory]</A><br><br>' in page
    listing = parse_listing(page, "Reports/CURRENT/Dispatch_SCADA/")
    assert listing.parent == "Reports/CURRENT/"
    assert [e.name for e in listing.entries] == [
        "DUPLICATE",
        "PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE01%23202604010000.zip",
        "PUBLIC_DISPATCHSCADA_202108311255_0000000348260618.zip",
    ]
    assert listing.entries[1].size == 140153
    assert listing.entries[1].modified == datetime(2026, 5, 2, 10, 0, tzinfo=NEM_TZ)
    assert "%2523" in page  # the literal %23 is escaped in the link


def test_page_without_links_is_an_empty_listing() -> None:
    listing = parse_listing("<html><body><h2>Service Unavailable</h2></body></html>", "x/")
    assert listing.entries == ()
    assert listing.parent is None
