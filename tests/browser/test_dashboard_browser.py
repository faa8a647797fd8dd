"""The dashboard in a real browser: every tab, filters, links, downloads, live data, a phone.

A real server process serves a small synthetic demo store (conftest.py); Debian's chromium,
driven by Playwright, opens the page. Charts are checked through the page's own BokehJS
document (``Bokeh.documents[0]``): each chart's data source is named, so a test reads how many
points it holds and sees it change. Any console error fails the test (the ``page`` fixture).
Screenshots go to a temporary folder printed in the output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from browser_support import WAIT, Server, rows, wait_rows
from playwright.sync_api import Page, expect

from nemdash.demo.live import LiveDemo

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_tab(page: Page, title: str) -> None:
    """Click a top-level (or sub-) tab by its title."""
    page.locator(".bk-tab", has_text=re.compile(f"^{re.escape(title)}$")).first.click()


def column(page: Page, source: str, field: str) -> list[object]:
    """A column of a named data source."""
    return list(
        page.evaluate(
            """([name, field]) => Array.from(
                window.Bokeh.documents[0].get_model_by_name(name).data[field])""",
            [source, field],
        )
    )


def test_every_tab_draws_and_follows_its_filters(server: Server, page: Page, shots: Path) -> None:
    page.goto(server.url + "/", wait_until="domcontentloaded")
    # Today: prices, the last day's mix (5-minute points) and the interconnectors.
    assert wait_rows(page, "today-mix-source", "bucket_end") == 288
    page.locator("text=Spot prices").first.wait_for(timeout=WAIT)
    assert page.locator("text=NSW1 (New South Wales)").count() >= 1
    page.screenshot(path=shots / "today.png", full_page=True)

    # Generation: the mix follows the range and the region.
    open_tab(page, "Generation")
    week = wait_rows(page, "generation-mix-source", "bucket_end")
    page.locator(".nd-range button", has_text=re.compile("^1d$")).click()
    assert wait_rows(page, "generation-mix-source", "bucket_end", not_=week) == 288
    assert "range=1d" in page.url
    page.locator("select").first.select_option(label="SA1 South Australia")
    page.wait_for_function(
        """() => window.Bokeh.documents[0].get_model_by_name('generation-mix-source')
                 .data.imports.some((v) => v !== 0)""",
        timeout=WAIT,
    )
    assert "region=SA1" in page.url
    page.screenshot(path=shots / "generation.png", full_page=True)
    for sub, source, field in (
        ("Utilisation", "generation-utilisation-source", "fuel"),
        ("Time of day", "generation-time-of-day-source", "hour"),
        ("Interconnectors", "generation-interconnectors-V-SA-source", "flow_mw"),
    ):
        open_tab(page, sub)
        wait_rows(page, source, field)
    page.screenshot(path=shots / "generation-interconnectors.png", full_page=True)

    # Prices: the statistics follow the regions chosen.
    open_tab(page, "Prices")
    assert wait_rows(page, "price-stats-source", "regionid") == 5
    wait_rows(page, "price-series-source", "bucket_end")
    page.locator("button", has_text=re.compile("^NSW1$")).first.click()
    assert wait_rows(page, "price-stats-source", "regionid", not_=5) == 4
    assert "NSW1" not in column(page, "price-stats-source", "regionid")
    wait_rows(page, "price-bands-table-source", "band")
    page.screenshot(path=shots / "prices.png", full_page=True)

    # Price analysis: a click opens a region's fuels.
    open_tab(page, "Price analysis")
    closed = wait_rows(page, "pivot-table-source", "group")
    page.locator(".slick-row:visible").nth(1).click()  # built tabs stay in the page, hidden
    assert wait_rows(page, "pivot-table-source", "group", not_=closed) > closed
    page.screenshot(path=shots / "analysis.png", full_page=True)

    # Stations: search, pick the first result, see its figures.
    open_tab(page, "Stations")
    page.get_by_placeholder(re.compile("Bayswater")).fill("wind")
    wait_rows(page, "station-search-source", "duid")
    page.locator(".slick-row:visible").first.click()
    wait_rows(page, "station-units-source", "duid")
    page.locator("text=Capacity factor").first.wait_for(timeout=WAIT)
    assert "tab=stations" in page.url
    assert "station=" in page.url
    page.screenshot(path=shots / "stations.png", full_page=True)


def query_of(page: Page) -> dict[str, str]:
    """The page's query string, one value per name."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_a_bare_address_shows_the_default_state_in_the_url(server: Server, page: Page) -> None:
    page.goto(server.url + "/", wait_until="domcontentloaded")
    page.wait_for_url(re.compile(r"[?&]range="), timeout=WAIT)
    assert query_of(page) == {"tab": "today", "region": "NEM", "range": "7d"}
    # The state in the URL is a link to the same view.
    page.goto(page.url, wait_until="domcontentloaded")
    assert wait_rows(page, "today-mix-source", "bucket_end") == 288


def test_a_link_reproduces_the_view(server: Server, page: Page) -> None:
    regions = quote(json.dumps(["SA1", "VIC1"]))
    page.goto(f"{server.url}/?tab=prices&range=1d&regions={regions}", wait_until="domcontentloaded")
    assert wait_rows(page, "price-stats-source", "regionid") == 2
    assert column(page, "price-stats-source", "regionid") == ["SA1", "VIC1"]
    assert rows(page, "today-mix-source", "bucket_end") == -1  # Today was never built
    # The URL keeps what the link named and adds the region, at once.
    page.wait_for_url(re.compile(r"[?&]region="), timeout=WAIT)
    query = query_of(page)
    assert (query["tab"], query["range"], query["region"]) == ("prices", "1d", "NEM")
    assert json.loads(query["regions"]) == ["SA1", "VIC1"]


def test_a_generation_link_reproduces_region_and_range(server: Server, page: Page) -> None:
    page.goto(f"{server.url}/?tab=generation&region=SA1&range=1d", wait_until="domcontentloaded")
    assert wait_rows(page, "generation-mix-source", "bucket_end") == 288
    assert page.locator("select:visible").first.input_value() == "SA1 South Australia"
    page.wait_for_url(re.compile(r"[?&]region=SA1"), timeout=WAIT)
    assert query_of(page) == {"tab": "generation", "region": "SA1", "range": "1d"}


def test_a_table_downloads_as_csv(server: Server, page: Page) -> None:
    page.goto(server.url + "/?tab=prices", wait_until="domcontentloaded")
    wait_rows(page, "price-stats-source", "regionid")
    with page.expect_download(timeout=WAIT) as download:
        page.locator(".nd-download-price-stats button, .nd-download-price-stats a").first.click()
    text = Path(download.value.path()).read_text()
    lines = text.splitlines()
    assert lines[0] == "# synthetic demo data"
    assert lines[1].startswith('"regionid",')
    assert "rrp_mean_aud_per_mwh" in lines[1]
    assert len(lines) == 2 + 5
    assert download.value.suggested_filename.startswith("nemdash-price-stats")


def test_new_data_appears_without_a_reload(server: Server, page: Page, shots: Path) -> None:
    page.goto(server.url + "/", wait_until="domcontentloaded")
    wait_rows(page, "today-mix-source", "bucket_end")
    status = page.locator("text=Data to").first
    before = status.inner_text()
    last = column(page, "today-mix-source", "bucket_end")[-1]
    live = LiveDemo(server.settings, server.demo, speed=300)
    live.start()
    try:
        assert live.wait_for_cycles(1, timeout=120), live.error
    finally:
        live.stop()
    page.wait_for_function(
        """(previous) => {
            const source = window.Bokeh.documents[0].get_model_by_name('today-mix-source');
            const times = source.data.bucket_end;
            return times.length > 0 && times[times.length - 1] > previous;
        }""",
        arg=last,
        timeout=WAIT,
    )
    expect(status).not_to_have_text(before, timeout=WAIT)
    page.screenshot(path=shots / "today-after-new-data.png", full_page=True)


def test_the_page_fits_a_phone(server: Server, page: Page, shots: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/?tab=generation", wait_until="domcontentloaded")
    wait_rows(page, "generation-mix-source", "bucket_end")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]
    page.screenshot(path=shots / "phone-generation.png", full_page=True)
